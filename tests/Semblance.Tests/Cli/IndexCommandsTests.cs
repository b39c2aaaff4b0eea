// `semblance index build|add|info`, `search` and `bench search` end to end: contracts, defaults and bad input.
using System.Text.Json;
using Semblance.IO;
using Semblance.Search;
using Semblance.Tests.Search;

namespace Semblance.Tests.Cli;

public class IndexCommandsTests
{
    private static (string Dir, string Base, string Queries) Fixture(int n = 200, int d = 16, int nq = 5)
    {
        var dir = SearchTestData.TempDir();
        var xb = SearchTestData.Clustered(n, d, 31);
        var xq = SearchTestData.Clustered(nq, d, 32);
        Npy.WriteFloat32(Path.Combine(dir, "base.npy"), xb, n, d);
        Npy.WriteFloat32(Path.Combine(dir, "q.npy"), xq, nq, d);
        return (dir, Path.Combine(dir, "base.npy"), Path.Combine(dir, "q.npy"));
    }

    private static (int, string, string) Run(params string[] args) => CliAppTests.Run(args);

    [Theory]
    [InlineData("flat")]
    [InlineData("flat-int8")]
    [InlineData("flat-f16")]
    [InlineData("hnsw")]
    public void BuildSearchInfoAndAdd(string kind)
    {
        var (dir, xb, xq) = Fixture();
        var idx = Path.Combine(dir, "idx");
        var (code, output, err) = Run("index", "build", "--output", idx, "--vectors", xb, "--kind", kind, "--metric", "l2");
        Assert.True(code == 0, err);
        Assert.StartsWith($"built {idx}: kind={kind} metric=l2 dimension=16 count=200", output);

        (code, output, err) = Run("search", "--index", idx, "--query-vectors", xq, "-k", "3");
        Assert.True(code == 0, err);
        var lines = output.Trim().Split('\n');
        Assert.Equal(5, lines.Length);
        var expected = SearchTestData.BruteForce(Npy.ReadFloat32(xb).Data, Npy.ReadFloat32(xq).Data, 16, 1, Metric.L2);
        for (int q = 0; q < lines.Length; q++)
        {
            using var doc = JsonDocument.Parse(lines[q]);
            Assert.Equal(q, doc.RootElement.GetProperty("query").GetInt32());
            var hits = doc.RootElement.GetProperty("hits");
            Assert.Equal(3, hits.GetArrayLength());
            Assert.Equal(expected[q][0].ToString(), hits[0].GetProperty("id").GetString());
            Assert.True(hits[0].GetProperty("score").GetSingle() <= hits[1].GetProperty("score").GetSingle(), "l2 hits come smallest distance first");
            Assert.Equal(JsonValueKind.Null, hits[0].GetProperty("text").ValueKind);
        }

        (code, output, err) = Run("index", "add", "--index", idx, "--vectors", xq);
        Assert.True(code == 0, err);
        Assert.Equal($"added 5 items to {idx}: count=205", output.Trim());
        (code, output, _) = Run("search", "--index", idx, "--query-vectors", xq, "-k", "1");
        Assert.Contains("\"id\":\"200\"", output.Split('\n')[0]);

        (code, output, err) = Run("index", "info", "--index", idx);
        Assert.True(code == 0, err);
        using var info = JsonDocument.Parse(output);
        Assert.Equal(205, info.RootElement.GetProperty("count").GetInt32());
        Assert.Equal(2, info.RootElement.GetProperty("generation").GetInt32());
        Assert.Equal(kind, info.RootElement.GetProperty("kind").GetString());
    }

    [Fact]
    public void IdsFileAndKBeyondCount()
    {
        var (dir, _, _) = Fixture();
        var xb = Path.Combine(dir, "three.npy");
        Npy.WriteFloat32(xb, new float[] { 1, 0, 0, 1, 1, 1 }, 3, 2);
        File.WriteAllText(Path.Combine(dir, "ids.txt"), "alpha\nbeta\ngamma\n");
        var idx = Path.Combine(dir, "idx");
        Assert.Equal(0, Run("index", "build", "--output", idx, "--vectors", xb, "--ids", Path.Combine(dir, "ids.txt")).Item1);
        Npy.WriteFloat32(Path.Combine(dir, "q.npy"), new float[] { 1, 0.1f }, 1, 2);
        var (code, output, _) = Run("search", "--index", idx, "--query-vectors", Path.Combine(dir, "q.npy"), "-k", "50");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(["alpha", "gamma", "beta"], doc.RootElement.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("id").GetString()));
    }

    [Fact]
    public void BenchSearchReportsQpsAndRecallOnTheLastLine()
    {
        var (dir, xb, xq) = Fixture();
        var idx = Path.Combine(dir, "idx");
        Assert.Equal(0, Run("index", "build", "--output", idx, "--vectors", xb, "--metric", "ip").Item1);
        var truth = SearchTestData.BruteForce(Npy.ReadFloat32(xb).Data, Npy.ReadFloat32(xq).Data, 16, 10, Metric.InnerProduct);
        var gt = Path.Combine(dir, "gt.npy");
        // Ground truth is integer: written as int64 by hand (Npy writes float32 only).
        WriteInt64Npy(gt, truth);
        var (code, output, err) = Run("bench", "search", "--index", idx, "--query-vectors", xq, "--ground-truth", gt, "--repeats", "2");
        Assert.True(code == 0, err);
        var last = output.Trim().Split('\n')[^1];
        Assert.Matches(@"^qps=[0-9.]+ recall_at_k=1\.0000$", last);
        (code, output, _) = Run("bench", "search", "--index", idx, "--query-vectors", xq, "--repeats", "1", "--batch-size", "1");
        Assert.EndsWith("recall_at_k=nan", output.Trim());
    }

    internal static void WriteInt64Npy(string path, int[][] rows)
    {
        int cols = rows[0].Length;
        var header = $"{{'descr': '<i8', 'fortran_order': False, 'shape': ({rows.Length}, {cols}), }}";
        header = header.PadRight(118 - 1) + "\n";
        using var fs = File.Create(path);
        fs.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        fs.Write(BitConverter.GetBytes((ushort)header.Length));
        fs.Write(System.Text.Encoding.ASCII.GetBytes(header));
        foreach (var r in rows) foreach (var v in r) fs.Write(BitConverter.GetBytes((long)v));
    }

    [Fact]
    public void DimensionMismatchOnAddIsAOneLineErrorAndLeavesTheIndexAlone()
    {
        var (dir, xb, _) = Fixture();
        var idx = Path.Combine(dir, "idx");
        Assert.Equal(0, Run("index", "build", "--output", idx, "--vectors", xb).Item1);
        var manifest = File.ReadAllText(Path.Combine(idx, IndexManifest.FileName));
        var wrong = Path.Combine(dir, "wrong.npy");
        Npy.WriteFloat32(wrong, new float[12], 2, 6);
        var (code, _, err) = Run("index", "add", "--index", idx, "--vectors", wrong);
        Assert.Equal(1, code);
        Assert.Equal($"error: {wrong}: vectors have dimension 6 but index {idx} has dimension 16", err.Trim());
        (code, _, err) = Run("search", "--index", idx, "--query-vectors", wrong);
        Assert.Equal(1, code);
        Assert.Contains("dimension 6", err);
        Assert.Equal(manifest, File.ReadAllText(Path.Combine(idx, IndexManifest.FileName)));
    }

    [Fact]
    public void NanVectorsAreRejected()
    {
        var (dir, _, _) = Fixture();
        var bad = Path.Combine(dir, "nan.npy");
        Npy.WriteFloat32(bad, new float[] { 1, float.NaN, 0, 1 }, 2, 2);
        var (code, _, err) = Run("index", "build", "--output", Path.Combine(dir, "idx"), "--vectors", bad);
        Assert.Equal(1, code);
        Assert.Equal("error: vector 0: value at dimension 1 is NaN; vectors must be finite (no NaN or infinity)", err.Trim());
        Assert.False(File.Exists(Path.Combine(dir, "idx", IndexManifest.FileName)));
    }

    [Fact]
    public void EmptyIndexSearchIsAClearError()
    {
        var (dir, _, _) = Fixture();
        var empty = Path.Combine(dir, "empty.npy");
        Npy.WriteFloat32(empty, [], 0, 4);
        var idx = Path.Combine(dir, "idx");
        Assert.Equal(0, Run("index", "build", "--output", idx, "--vectors", empty).Item1);
        Npy.WriteFloat32(Path.Combine(dir, "q.npy"), new float[] { 1, 0, 0, 0 }, 1, 4);
        var (code, _, err) = Run("search", "--index", idx, "--query-vectors", Path.Combine(dir, "q.npy"));
        Assert.Equal(1, code);
        Assert.Equal("error: the index is empty; add items before searching", err.Trim());
    }

    [Fact]
    public void CorruptIndexIsReportedAndNotModifiedByAdd()
    {
        var (dir, xb, xq) = Fixture();
        var idx = Path.Combine(dir, "idx");
        Assert.Equal(0, Run("index", "build", "--output", idx, "--vectors", xb).Item1);
        var vectors = Path.Combine(idx, VectorIndex.ReadInfo(idx).Files["vectors"].Name);
        var bytes = File.ReadAllBytes(vectors);
        bytes[^3] ^= 0xFF;
        File.WriteAllBytes(vectors, bytes);
        var (code, _, err) = Run("search", "--index", idx, "--query-vectors", xq);
        Assert.Equal(1, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("checksum mismatch", err);
        (code, _, err) = Run("index", "add", "--index", idx, "--vectors", xq);
        Assert.Equal(1, code);
        Assert.Contains("checksum mismatch", err);
        Assert.Equal(bytes, File.ReadAllBytes(vectors));
    }

    [Fact]
    public void SecondWriterIsRefusedWithAClearError()
    {
        var (dir, xb, xq) = Fixture();
        var idx = Path.Combine(dir, "idx");
        Assert.Equal(0, Run("index", "build", "--output", idx, "--vectors", xb).Item1);
        using (IndexLock.Acquire(idx))
        {
            var (code, _, err) = Run("index", "add", "--index", idx, "--vectors", xq);
            Assert.Equal(1, code);
            Assert.Contains("already open for writing", err);
        }
        Assert.Equal(0, Run("index", "add", "--index", idx, "--vectors", xq).Item1);
    }

    [Fact]
    public void BuildRefusesAnExistingIndexAndUsageErrorsExitTwo()
    {
        var (dir, xb, _) = Fixture();
        var idx = Path.Combine(dir, "idx");
        Assert.Equal(0, Run("index", "build", "--output", idx, "--vectors", xb).Item1);
        var (code, _, err) = Run("index", "build", "--output", idx, "--vectors", xb);
        Assert.Equal(1, code);
        Assert.Contains("already holds a semblance-index; use 'semblance index add'", err);
        Assert.Equal(2, Run("index", "build", "--output", idx).Item1);
        Assert.Equal(2, Run("search", "--index", idx).Item1);
        Assert.Equal(2, Run("index", "build", "--output", idx + "2", "--vectors", xb, "--kind", "ivf").Item1);
    }

    [SharedFact]
    public void TextItemsAreEncodedWithTheStoredModel()
    {
        var (dir, _, _) = Fixture();
        var model = SharedData.FixtureModel("bert-tiny-uncased");
        var input = Path.Combine(dir, "items.jsonl");
        File.WriteAllText(input, "{\"id\":\"cat\",\"text\":\"the cat sat on the mat\"}\n{\"id\":\"stock\",\"text\":\"stock markets fell sharply today\"}\n{\"text\":\"a kitten sleeps on a rug\"}\n");
        var idx = Path.Combine(dir, "idx");
        var (code, _, err) = Run("index", "build", "--output", idx, "--model", model, "--input", input);
        Assert.True(code == 0, err);
        (code, var output, err) = Run("search", "--index", idx, "--query", "the cat sat on the mat", "-k", "2");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);
        var top = doc.RootElement.GetProperty("hits")[0];
        Assert.Equal("cat", top.GetProperty("id").GetString());
        Assert.Equal("the cat sat on the mat", top.GetProperty("text").GetString());
        Assert.Equal(1.0, top.GetProperty("score").GetDouble(), 4);
        var lines = Path.Combine(dir, "more.txt");
        File.WriteAllText(lines, "one more line\n");
        (code, output, err) = Run("index", "add", "--index", idx, "--input", lines);
        Assert.True(code == 0, err);
        Assert.Contains("count=4", output);
    }
}

public class SearchGeodesicCommandTests
{
    [Fact]
    public void GeodesicSearchFollowsTheSpiralArm()
    {
        var dir = SearchTestData.TempDir();
        var (xb, labels) = GeodesicSimilarityTests.Spirals(300, 1);
        Npy.WriteFloat32(Path.Combine(dir, "b.npy"), xb, labels.Length, 2);
        var (xq, queryLabels) = GeodesicSimilarityTests.Spirals(10, 2);
        Npy.WriteFloat32(Path.Combine(dir, "q.npy"), xq, queryLabels.Length, 2);
        var idx = Path.Combine(dir, "idx");
        Assert.Equal(0, CliAppTests.Run("index", "build", "--output", idx, "--vectors", Path.Combine(dir, "b.npy"), "--metric", "l2").Item1);
        var (code, output, err) = CliAppTests.Run("search", "--index", idx, "--query-vectors", Path.Combine(dir, "q.npy"), "-k", "40", "--geodesic", "--graph-k", "5", "--entry-points", "1");
        Assert.True(code == 0, err);
        var lines = output.Trim().Split('\n');
        Assert.Equal(20, lines.Length);
        for (int q = 0; q < lines.Length; q++)
        {
            using var doc = JsonDocument.Parse(lines[q]);
            var ids = doc.RootElement.GetProperty("hits").EnumerateArray().Select(h => int.Parse(h.GetProperty("id").GetString()!)).ToList();
            Assert.Equal(40, ids.Count);
            Assert.True(ids.Count(i => labels[i] == queryLabels[q]) >= 38, $"query {q} left its arm");
        }
    }
}
