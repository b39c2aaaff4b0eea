// SemanticIndex: the manifest records the encoder, queries are encoded with exactly it (CLI and server alike), other
// encoders are refused unless allowed, format-1 manifests still open; ids, upsert and remove in the library and CLI.
using System.Text.Json;
using Semblance.Cli;
using Semblance.Cli.Commands;
using Semblance.Embeddings;
using Semblance.Search;
using Semblance.Tests.Cli;
using Semblance.Tests.Models;
using Semblance.Tests.Server;

namespace Semblance.Tests.Search;

public class SemanticIndexTests
{
    private static string Model => SharedData.FixtureModel("bert-tiny-uncased");

    /// <summary>A corpus file, a whitening fitted on it (8 of 32 dimensions) and an index built with both.</summary>
    private static (string Corpus, string Whitening, string Index) WhitenedIndex(TempDir dir, string kind = "flat")
    {
        var lines = FixtureCase.Read(Model).Select(c => c.Text.Replace("\n", " ").Replace("\r", " ")).ToList();
        File.WriteAllLines(dir.File("corpus.txt"), lines);
        var (code, _, err) = CliAppTests.Run("whiten", "fit", "--model", Model, "--input", dir.File("corpus.txt"), "--dims", "8", "--output", dir.File("w.safetensors"));
        Assert.True(code == 0, err);
        (code, _, err) = CliAppTests.Run("index", "build", "--output", dir.File("idx"), "--input", dir.File("corpus.txt"), "--model", Model,
            "--whitening", dir.File("w.safetensors"), "--kind", kind);
        Assert.True(code == 0, err);
        return (dir.File("corpus.txt"), dir.File("w.safetensors"), dir.File("idx"));
    }

    private static CommandArgs ServeArgs(params string[] args) =>
        CliApp.Parse(new ServeCommand(), [.. args, "--urls", "http://127.0.0.1:0", "--threads", "1"]);

    private static readonly CliIO Quiet = new(TextReader.Null, TextWriter.Null, TextWriter.Null, verbose: false);

    [SharedFact]
    public void TheManifestRecordsTheEncoder()
    {
        using var dir = new TempDir();
        var (_, whitening, idx) = WhitenedIndex(dir);
        var e = VectorIndex.ReadInfo(idx).Encoder!;
        Assert.Equal(Path.GetFullPath(Model), e.Model);
        Assert.Equal(IndexEncoder.ComputeModelChecksum(Model), e.ModelChecksum);
        Assert.StartsWith("sha256:", e.ModelChecksum);
        Assert.Equal("mean", e.Pooling);
        Assert.Equal(Path.GetFullPath(whitening), e.Whitening);
        Assert.Equal(IndexEncoder.FileChecksum(whitening), e.WhiteningChecksum);
        Assert.Equal(2, VectorIndex.ReadInfo(idx).Version);
        var (code, output, err) = CliAppTests.Run("index", "info", "--index", idx);
        Assert.True(code == 0, err);
        using var info = JsonDocument.Parse(output);
        Assert.Equal(e.ModelChecksum, info.RootElement.GetProperty("encoder").GetProperty("model_checksum").GetString());
    }

    /// <summary>Regression: `serve --model M --index IDX` on an index built with --whitening failed with a dimension mismatch.</summary>
    [SharedFact]
    public async Task ServeStartsOnAWhitenedIndexAndSearchMatchesTheCli()
    {
        using var dir = new TempDir();
        var (_, _, idx) = WhitenedIndex(dir, "hnsw");
        const string query = "a man is playing a guitar";
        var (code, cli, err) = CliAppTests.Run("search", "--index", idx, "--query", query, "-k", "5");
        Assert.True(code == 0, err);
        using var cliHits = JsonDocument.Parse(cli);
        foreach (var args in new[] { ServeArgs("--model", Model, "--index", idx), ServeArgs("--index", idx) })
        {
            await using var host = await ServerTestHost.StartAsync(ServeCommand.CreateServer(args, Quiet, out _));
            var (status, body) = await host.Post("/search", new { query, k = 5 });
            Assert.Equal(200, status);
            // Same ids, same order, same scores (the same float written the same way).
            Assert.Equal(cliHits.RootElement.GetProperty("hits").GetRawText(), body.GetProperty("hits").GetRawText());
            // A batch of queries answers each as a single query would.
            var (bs, batch) = await host.Post("/search", new { queries = new[] { "nothing like it", query }, k = 5 });
            Assert.Equal(200, bs);
            Assert.Equal(cliHits.RootElement.GetProperty("hits").GetRawText(), batch.GetProperty("results")[1].GetProperty("hits").GetRawText());
            var (both, error) = await host.Post("/search", new { query, queries = new[] { query } });
            Assert.Equal(400, both);
            Assert.Contains("exactly one of 'query'", error.GetProperty("error").GetString());
        }
    }

    [SharedFact]
    public void AnotherEncoderIsAClearErrorUnlessAllowed()
    {
        using var dir = new TempDir();
        var (corpus, whitening, idx) = WhitenedIndex(dir);
        // A copy of the model with a changed config.json: same shapes, different identity.
        var other = dir.File("other-model");
        Directory.CreateDirectory(other);
        foreach (var f in Directory.EnumerateFiles(Model)) File.Copy(f, Path.Combine(other, Path.GetFileName(f)));
        File.WriteAllText(Path.Combine(other, "config.json"), File.ReadAllText(Path.Combine(Model, "config.json")).Replace("{", "{\"note\": \"changed\", ", StringComparison.Ordinal));
        Assert.NotEqual(IndexEncoder.ComputeModelChecksum(Model), IndexEncoder.ComputeModelChecksum(other));

        var (code, _, err) = CliAppTests.Run("search", "--index", idx, "--query", "hello", "--model", other);
        Assert.Equal(1, code);
        Assert.Contains("is not the model the index was built with", err);
        Assert.DoesNotContain("   at ", err);
        (code, _, err) = CliAppTests.Run("search", "--index", idx, "--query", "hello", "--model", other, "--allow-encoder-mismatch");
        Assert.True(code == 0, err);

        // The index's own model with a whitening that is not the index's.
        // Same pooling and shape (a whitening fitted under another pooling is refused earlier, by the encoder), other sentences.
        File.WriteAllLines(dir.File("corpus2.txt"), File.ReadAllLines(corpus).Reverse().Skip(2));
        (code, _, err) = CliAppTests.Run("whiten", "fit", "--model", Model, "--input", dir.File("corpus2.txt"), "--dims", "8", "--output", dir.File("w2.safetensors"));
        Assert.True(code == 0, err);
        (code, _, err) = CliAppTests.Run("search", "--index", idx, "--query", "hello", "--model", Model, "--whitening", dir.File("w2.safetensors"));
        Assert.Equal(1, code);
        Assert.Contains("is not the index's whitening", err);

        // serve refuses a different pooling for /search.
        var e = Assert.Throws<SemblanceException>(() => ServeCommand.CreateServer(ServeArgs("--model", Model, "--index", idx, "--pooling", "cls"), Quiet, out _));
        Assert.Contains("pooling 'cls' is not the index's pooling 'mean'", e.Message);
        Assert.NotNull(whitening);
    }

    [SharedFact]
    public void LibraryCreateSearchUpsertRemoveAndReopen()
    {
        using var dir = new TempDir();
        using var encoder = SentenceEncoder.Load(Model);
        string[] texts = ["the cat sat on the mat", "a dog barked", "stock markets fell sharply today"];
        using (var prompted = SemanticIndex.Create(new FlatIndex(encoder.Dimension, Metric.Cosine), encoder, Model, queryPrompt: "query: "))
        {
            // The prompt goes before queries only; both are encoded exactly as the encoder encodes the text it sees.
            Assert.Equal(encoder.Encode("query: a dog barked"), prompted.EncodeQueries(["a dog barked"]));
            Assert.Equal(encoder.Encode("a dog barked"), prompted.EncodeDocuments(["a dog barked"]));
            Assert.Equal("query: ", prompted.Encoder!.QueryPrompt);
        }
        using (var index = SemanticIndex.Create(new FlatIndex(encoder.Dimension, Metric.Cosine), encoder, Model))
        {
            index.Add(texts);
            Assert.Equal(["0", "1", "2"], index.Vectors.SearchBatch(index.EncodeDocuments(texts), 1).Select(h => h[0].Id));
            var hit = index.Search("a dog barked", 1)[0];
            Assert.Equal(("1", "a dog barked"), (hit.Id, hit.Text));
            Assert.Equal(index.SearchBatch(["a dog barked"], 2)[0], index.Search("a dog barked", 2));

            var e = Assert.Throws<InputFormatException>(() => index.Add(["again"], ["1"]));
            Assert.Contains("upsert", e.Message);
            index.Upsert(["stock markets fell sharply today"], ["1"]);
            Assert.Equal(3, index.Vectors.Count);
            Assert.Equal(["1", "2"], index.Search("stock markets fell sharply today", 2).Select(h => h.Id).Order());
            Assert.Equal(1, index.Remove(["2", "missing"]));
            Assert.Equal(("1", "stock markets fell sharply today"), (index.Search("stock markets fell", 1)[0].Id, index.Search("stock markets fell", 1)[0].Text));
            index.Save(dir.File("idx"));
        }
        using var reopened = SemanticIndex.Open(dir.File("idx"));
        Assert.Equal(IndexEncoder.ComputeModelChecksum(Model), reopened.Encoder!.ModelChecksum);
        Assert.Equal(2, reopened.Vectors.Count);
        Assert.Equal("0", reopened.Search("the cat sat on the mat", 1)[0].Id);
    }

    [SharedFact]
    public void AFormatOneManifestStillOpens()
    {
        using var dir = new TempDir();
        var (_, whitening, idx) = WhitenedIndex(dir);
        var (code, expected, err) = CliAppTests.Run("search", "--index", idx, "--query", "a woman is slicing an onion", "-k", "3");
        Assert.True(code == 0, err);
        // Rewrite the manifest as version 1 wrote it: top-level model and whitening paths, no encoder object.
        var path = Path.Combine(idx, IndexManifest.FileName);
        var o = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path).Split('\n')[0])!.AsObject();
        o["version"] = 1;
        o.Remove("encoder");
        o["model"] = Path.GetFullPath(Model);
        o["whitening"] = Path.GetFullPath(whitening);
        var json = o.ToJsonString();
        File.WriteAllText(path, json + "\ncrc32c " + Crc32C.Compute(System.Text.Encoding.UTF8.GetBytes(json)).ToString("x8") + "\n");
        var info = VectorIndex.ReadInfo(idx);
        Assert.Equal((1, Path.GetFullPath(Model), (string?)null), (info.Version, info.Encoder!.Model, info.Encoder.ModelChecksum));
        (code, var output, err) = CliAppTests.Run("search", "--index", idx, "--query", "a woman is slicing an onion", "-k", "3");
        Assert.True(code == 0, err);
        Assert.Equal(expected, output);
    }

    [Fact]
    public void IndexRemoveAndUpsertFromTheCli()
    {
        var dir = SearchTestData.TempDir();
        var xb = SearchTestData.Clustered(20, 4, 3);
        Semblance.IO.Npy.WriteFloat32(Path.Combine(dir, "x.npy"), xb, 20, 4);
        Semblance.IO.Npy.WriteFloat32(Path.Combine(dir, "one.npy"), xb.AsSpan(0, 4).ToArray(), 1, 4);
        File.WriteAllText(Path.Combine(dir, "id.txt"), "7\n");
        var idx = Path.Combine(dir, "idx");
        var (code, _, err) = CliAppTests.Run("index", "build", "--output", idx, "--vectors", Path.Combine(dir, "x.npy"));
        Assert.True(code == 0, err);
        (code, _, err) = CliAppTests.Run("index", "add", "--index", idx, "--vectors", Path.Combine(dir, "one.npy"), "--ids", Path.Combine(dir, "id.txt"));
        Assert.Equal(1, code);
        Assert.Contains("'index add --upsert'", err);
        (code, var output, err) = CliAppTests.Run("index", "add", "--index", idx, "--vectors", Path.Combine(dir, "one.npy"), "--ids", Path.Combine(dir, "id.txt"), "--upsert");
        Assert.True(code == 0, err);
        Assert.Equal($"upserted 1 items to {idx}: count=20", output.Trim());
        (code, output, _) = CliAppTests.Run("search", "--index", idx, "--query-vectors", Path.Combine(dir, "one.npy"), "-k", "2");
        Assert.Contains("\"id\":\"7\"", output);
        (code, output, err) = CliAppTests.Run("index", "remove", "--index", idx, "--id", "7");
        Assert.True(code == 0, err);
        Assert.Equal($"removed 1 of 1 items from {idx}: count=19", output.Trim());
        (code, output, _) = CliAppTests.Run("search", "--index", idx, "--query-vectors", Path.Combine(dir, "one.npy"), "-k", "19");
        Assert.DoesNotContain("\"id\":\"7\"", output);
        (code, _, err) = CliAppTests.Run("search", "--index", idx, "--query", "text");
        Assert.Equal(1, code);
        Assert.Contains("was built from vectors and records no encoder", err);
    }

    [Theory]
    [InlineData("flat")]
    [InlineData("hnsw")]
    public void FiltersSelectOnStoredFields(string kind)
    {
        const int d = 16, n = 600, nq = 12, k = 10;
        var xb = SearchTestData.Clustered(n, d, 41);
        var xq = SearchTestData.Clustered(nq, d, 42);
        string?[] fields = [.. Enumerable.Range(0, n).Select(i => i % 7 == 0 ? null : $"{{\"lang\":\"{(i % 3 == 0 ? "de" : "en")}\",\"n\":{i % 5},\"ok\":true}}")];
        bool Matches(int i) => i % 7 != 0 && i % 3 == 0 && i % 5 == 2;
        using VectorIndex index = kind == "hnsw" ? new HnswIndex(d, Metric.L2) { Threads = 1 } : new FlatIndex(d, Metric.L2);
        index.Add(xb, null, null, fields);
        index.Remove(["42"]); // matches the filter, but removed
        var filter = new SearchOptions { Filter = new Dictionary<string, string> { ["lang"] = "de", ["n"] = "2", ["ok"] = "true" }, EfSearch = 200 };
        var hits = index.SearchBatch(xq, k, filter);
        var matching = Enumerable.Range(0, n).Where(i => Matches(i) && i != 42).ToArray();
        var sub = matching.SelectMany(i => xb.AsSpan(i * d, d).ToArray()).ToArray();
        var truth = SearchTestData.BruteForce(sub, xq, d, k, Metric.L2).Select(r => r.Select(j => matching[j]).ToArray()).ToArray();
        double found = 0;
        for (int q = 0; q < nq; q++)
        {
            Assert.All(hits[q], h => Assert.True(Matches(int.Parse(h.Id)) && h.Id != "42", h.Id));
            Assert.All(hits[q], h => Assert.Contains("\"lang\":\"de\"", h.Fields));
            found += hits[q].Count(h => truth[q].Contains(int.Parse(h.Id)));
        }
        // Flat: exactly the k best matching items; HNSW: approximate.
        Assert.True(found / (nq * k) >= (kind == "flat" ? 1.0 : 0.9), $"recall {found / (nq * k)}");
        Assert.Empty(index.SearchBatch(xq, k, new SearchOptions { Filter = new Dictionary<string, string> { ["lang"] = "fr" } })[0]);
        Assert.Throws<InputFormatException>(() => index.Add(xb.AsSpan(0, d), ["x"], null, ["[1]"]));
    }

    [Fact]
    public void JsonlFieldsAreStoredAndFilterableFromTheCli()
    {
        var dir = SearchTestData.TempDir();
        var idx = Path.Combine(dir, "idx");
        var (code, _, err) = CliAppTests.Run("fit-default", "--input", WriteCorpus(dir), "--output", Path.Combine(dir, "m"), "--dims", "16");
        Assert.True(code == 0, err);
        File.WriteAllLines(Path.Combine(dir, "items.jsonl"),
        [
            "{\"id\":\"a\",\"text\":\"reset your password from the login page\",\"lang\":\"en\"}",
            "{\"id\":\"b\",\"text\":\"passwort zuruecksetzen auf der login seite\",\"lang\":\"de\"}",
            "{\"id\":\"c\",\"text\":\"the password must have twelve characters\",\"lang\":\"en\",\"tags\":[\"x\"]}",
        ]);
        (code, _, err) = CliAppTests.Run("index", "build", "--output", idx, "--input", Path.Combine(dir, "items.jsonl"), "--model", Path.Combine(dir, "m"));
        Assert.True(code == 0, err);
        (code, var output, err) = CliAppTests.Run("search", "--index", idx, "--query", "reset password", "-k", "3", "--filter", "lang=de");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);
        var hit = Assert.Single(doc.RootElement.GetProperty("hits").EnumerateArray());
        Assert.Equal("b", hit.GetProperty("id").GetString());
        Assert.Equal("de", hit.GetProperty("fields").GetProperty("lang").GetString());
        (code, _, err) = CliAppTests.Run("search", "--index", idx, "--query", "reset password", "--filter", "lang");
        Assert.Equal(2, code);
        Assert.Contains("not FIELD=VALUE", err);
    }

    private static string WriteCorpus(string dir)
    {
        var path = Path.Combine(dir, "corpus.txt");
        File.WriteAllLines(path, Enumerable.Range(0, 60).Select(i => $"line {i} about passwords login pages and {(i % 2 == 0 ? "characters" : "seiten")} number {i % 9}"));
        return path;
    }

    [SharedFact]
    public async Task TheServerFiltersAndReturnsFields()
    {
        var enc = SentenceEncoder.Load(Model);
        var index = SemanticIndex.Create(new FlatIndex(enc.Dimension, Metric.Cosine), enc, Model);
        index.Add(["the cat sat on the mat", "a dog barked", "a dog barked loudly"], ["s0", "s1", "s2"], [null, "{\"animal\":\"dog\",\"loud\":false}", "{\"animal\":\"dog\",\"loud\":true}"]);
        await using var host = await ServerTestHost.StartAsync(enc, index: index);
        var (status, body) = await host.Post("/search", new { query = "a dog barked", k = 3, filter = new { loud = true } });
        Assert.Equal(200, status);
        var hit = Assert.Single(body.GetProperty("hits").EnumerateArray());
        Assert.Equal("s2", hit.GetProperty("id").GetString());
        Assert.True(hit.GetProperty("fields").GetProperty("loud").GetBoolean());
        var (bad, error) = await host.Post("/search", new { query = "a dog", filter = new { animal = new[] { "dog" } } });
        Assert.Equal(400, bad);
        Assert.Contains("filter", error.GetProperty("error").GetString());
    }
}
