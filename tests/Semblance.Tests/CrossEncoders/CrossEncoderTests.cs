// Cross-encoders against Hugging Face's own BertForSequenceClassification / RoFormerForSequenceClassification outputs.
using Semblance.CrossEncoders;
using Semblance.Models;
using Semblance.Tests.Cli;
using Semblance.Tests.Models;

namespace Semblance.Tests.CrossEncoders;

public class CrossEncoderTests
{
    [SharedTheory]
    [InlineData("bert-tiny-cls1")]
    [InlineData("bert-tiny-cls2")]
    [InlineData("roformer-tiny-cls1")]
    public void PairTokensAndLogitsMatchTransformersPackedAndOneAtATime(string name)
    {
        using var temp = new TempDir();
        var dir = HeadFixtures.ModelDirectory(name, temp);
        var cases = HeadFixtures.Cases(name);
        using var expected = SafeTensorsFile.Open(Path.Combine(HeadFixtures.Dir(name), "expected.safetensors"));
        var logits = expected.ReadFloat("logits").Span;
        int max = cases[0].GetProperty("max_length").GetInt32();
        using var model = CrossEncoder.Load(dir, new CrossEncoderOptions { MaxLength = max, Threads = 2, BatchSize = 7 });
        int labels = model.NumLabels;
        Assert.Equal(name.EndsWith("cls2", StringComparison.Ordinal) ? 2 : 1, labels);
        var pairs = cases.Select(c => (c.GetProperty("text").GetString()!, c.GetProperty("text_pair").GetString()!)).ToArray();
        for (int i = 0; i < cases.Count; i++)
        {
            var encoded = model.Tokenizer.EncodePair(pairs[i].Item1, pairs[i].Item2, cases[i].GetProperty("max_length").GetInt32());
            Assert.Equal(HeadFixtures.Ints(cases[i], "input_ids"), encoded.Ids);
            Assert.Equal(HeadFixtures.Ints(cases[i], "token_type_ids"), encoded.TypeIds);
        }
        var packed = model.Predict(pairs);
        for (int i = 0; i < cases.Count; i++)
        {
            var single = model.Predict([pairs[i]])[0];
            for (int j = 0; j < labels; j++)
            {
                Assert.True(Math.Abs(packed[i][j] - logits[i * labels + j]) <= 1e-5, $"case {i} label {j}: {packed[i][j]} vs {logits[i * labels + j]}");
                Assert.Equal(packed[i][j], single[j]);
            }
        }
    }

    [SharedFact]
    public void LongestFirstTruncationRemovesFromTheLongerSegmentAndFromTheSecondOnATie()
    {
        using var model = CrossEncoder.Load(HeadFixtures.ModelDirectory("bert-tiny-cls1", new TempDir()), new CrossEncoderOptions { Threads = 1 });
        string a = string.Join(' ', Enumerable.Repeat("cat", 20)), b = string.Join(' ', Enumerable.Repeat("dog", 16));
        var e = model.Tokenizer.EncodePair(a, b, 32);
        Assert.Equal(32, e.Length);
        Assert.Equal(15, e.TypeIds.Count(t => t == 0) - 2);
        Assert.Equal(14, e.TypeIds.Count(t => t == 1) - 1);
        var untruncated = model.Tokenizer.EncodePair(a, b, 0);
        Assert.Equal(39, untruncated.Length);
    }

    [SharedFact]
    public void ActivationsScoresAndRankingFollowSentenceTransformers()
    {
        using var temp = new TempDir();
        using var two = CrossEncoder.Load(HeadFixtures.ModelDirectory("bert-tiny-cls2", temp), new CrossEncoderOptions { Threads = 1 });
        Assert.Equal(["not_equivalent", "equivalent"], two.Labels);
        var raw = two.Predict([("a cat", "a kitten")])[0];
        var soft = two.Predict([("a cat", "a kitten")], ScoreActivation.Softmax)[0];
        Assert.Equal(1f, soft[0] + soft[1], 5);
        Assert.Equal(MathF.Exp(raw[1]) / (MathF.Exp(raw[0]) + MathF.Exp(raw[1])), soft[1], 5);
        using var one = CrossEncoder.Load(HeadFixtures.ModelDirectory("bert-tiny-cls1", temp), new CrossEncoderOptions { Threads = 1 });
        string[] candidates = ["stocks fell", "a kitten sleeps", "a cat"];
        var ranked = one.Rank("a cat", candidates);
        var logits = one.Predict(candidates.Select(c => ("a cat", c)).ToArray());
        Assert.Equal(Enumerable.Range(0, 3).OrderByDescending(i => logits[i][0]), ranked.Select(r => r.Index));
        Assert.Equal(1f / (1f + MathF.Exp(-logits[ranked[0].Index][0])), ranked[0].Score, 6);
        Assert.Equal(logits[ranked[0].Index][0], one.Rank("a cat", candidates, topK: 1, raw: true).Single().Score);
    }

    [SharedFact]
    public void AnEncoderCheckpointIsNotACrossEncoderAndTheErrorSaysSo()
    {
        var e = Assert.Throws<ModelFormatException>(() => CrossEncoder.Load(SharedData.FixtureModel("bert-tiny-uncased")));
        Assert.Contains("no sequence-classification head", e.Message);
        var (code, _, err) = CliAppTests.RunWithInput("a\tb\n", "pair-score", "--model", SharedData.FixtureModel("bert-tiny-uncased"));
        Assert.Equal(1, code);
        Assert.Contains("not a cross-encoder", err);
    }

    [SharedFact]
    public void PairScoreCliPrintsOneJsonArrayPerLineAndRerankOrdersCandidates()
    {
        using var temp = new TempDir();
        var dir = HeadFixtures.ModelDirectory("bert-tiny-cls2", temp);
        var (code, stdout, err) = CliAppTests.RunWithInput("a cat\ta kitten\t4.5\nstocks fell\ta cat\n", "pair-score", "--model", dir);
        Assert.True(code == 0, err);
        var lines = stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        using var model = CrossEncoder.Load(dir, new CrossEncoderOptions { Threads = 1 });
        var expected = model.Predict([("a cat", "a kitten"), ("stocks fell", "a cat")]);
        for (int i = 0; i < 2; i++)
            Assert.Equal(expected[i], System.Text.Json.JsonSerializer.Deserialize<float[]>(lines[i]));

        (code, _, err) = CliAppTests.RunWithInput("only one column\n", "pair-score", "--model", dir);
        Assert.Equal(1, code);
        Assert.Contains("stdin:1: expected text<TAB>text_pair", err);

        (code, stdout, err) = CliAppTests.RunWithInput("stocks fell\na kitten\n", "rerank", "--model", dir, "--query", "a cat", "-k", "1");
        Assert.True(code == 0, err);
        var top = System.Text.Json.JsonDocument.Parse(stdout.Trim()).RootElement;
        Assert.Equal(model.Rank("a cat", ["stocks fell", "a kitten"])[0].Index, top.GetProperty("index").GetInt32());
    }

    [SharedFact]
    public void EvalStsCrossEncoderReportsTheLogitsSpearmanAndTheDevChosenThresholdAccuracy()
    {
        using var temp = new TempDir();
        var dir = HeadFixtures.ModelDirectory("bert-tiny-cls1", temp);
        (string, string)[] devPairs = [("a cat", "a kitten"), ("stocks fell", "a cat"), ("a dog runs", "a dog is running"), ("rain today", "a cat")];
        (string, string)[] testPairs = [("a kitten", "a cat"), ("a cat", "markets rose"), ("dogs run", "a dog runs"), ("the sun", "stocks fell")];
        int[] devLabels = [1, 0, 1, 0], testLabels = [1, 0, 0, 1];
        string Write(string name, (string, string)[] pairs, int[] labels)
        {
            File.WriteAllLines(temp.File(name), pairs.Select((p, i) => $"{p.Item1}\t{p.Item2}\t{labels[i]}"));
            return temp.File(name);
        }
        var dev = Write("dev.tsv", devPairs, devLabels);
        var test = Write("test.tsv", testPairs, testLabels);
        var (code, stdout, err) = CliAppTests.Run("eval", "sts", "--cross-encoder", "--model", dir, "--data", test, "--threshold-dev", dev, "--threads", "1");
        Assert.True(code == 0, err);
        using var model = CrossEncoder.Load(dir, new CrossEncoderOptions { Threads = 1 });
        double[] Logits((string, string)[] pairs) => model.Predict(pairs).Select(l => (double)l[0]).ToArray();
        var testLogits = Logits(testPairs);
        var chosen = Semblance.Evaluation.ThresholdAccuracy.Best(Logits(devPairs), devLabels.Select(l => l == 1).ToArray());
        double accuracy = Semblance.Evaluation.ThresholdAccuracy.At(testLogits, testLabels.Select(l => l == 1).ToArray(), chosen.Threshold);
        double spearman = 100 * Semblance.Evaluation.Correlation.Spearman(testLogits, testLabels.Select(l => (double)l).ToArray());
        Assert.Contains(FormattableString.Invariant($"dev_accuracy={chosen.Accuracy:F2} accuracy={accuracy:F2}"), stdout);
        Assert.EndsWith(FormattableString.Invariant($"spearman={spearman:F2}\n"), stdout.Replace("\r\n", "\n"));
        // A graded file given as the threshold dev set is a one-line error naming it.
        var graded = temp.File("graded.tsv");
        File.WriteAllText(graded, "a cat\ta kitten\t1\nstocks fell\ta cat\t4.5\n");
        (code, _, err) = CliAppTests.Run("eval", "sts", "--cross-encoder", "--model", dir, "--data", test, "--threshold-dev", graded, "--threads", "1");
        Assert.Equal(1, code);
        Assert.Contains($"{graded}: pair 2 has label 4.5; threshold accuracy needs 0/1 labels", err);
    }
}

public class CrossEncoderIsNotAnEncoderTests
{
    [SharedFact]
    public void EncodingWithACrossEncoderSaysToUsePairScore()
    {
        using var temp = new TempDir();
        var (code, _, err) = CliAppTests.RunWithInput("hello\n", "encode", "--model", HeadFixtures.ModelDirectory("bert-tiny-cls1", temp));
        Assert.Equal(1, code);
        Assert.Contains("is a cross-encoder (BertForSequenceClassification", err);
    }
}

public class SearchRerankTests
{
    [SharedFact]
    public void SearchWithRerankRetrievesThenOrdersTheCandidatesByTheCrossEncoder()
    {
        using var temp = new TempDir();
        var ce = HeadFixtures.ModelDirectory("bert-tiny-cls1", temp);
        var model = SharedData.FixtureModel("bert-tiny-uncased");
        string[] docs = ["a cat sits on the mat", "stocks fell sharply today", "a kitten is sleeping", "the market rallied", "dogs bark at night"];
        File.WriteAllLines(temp.File("docs.txt"), docs);
        var (code, _, err) = CliAppTests.Run("index", "build", "--model", model, "--input", temp.File("docs.txt"), "--output", temp.File("idx"));
        Assert.True(code == 0, err);
        (code, var stdout, err) = CliAppTests.Run("search", "--index", temp.File("idx"), "--query", "a cat", "-k", "2", "--rerank", ce, "--rerank-depth", "5");
        Assert.True(code == 0, err);
        var hits = System.Text.Json.JsonDocument.Parse(stdout.Trim()).RootElement.GetProperty("hits");
        using var cross = CrossEncoder.Load(ce, new CrossEncoderOptions { Threads = 1 });
        var expected = cross.Rank("a cat", docs, 2);
        Assert.Equal(expected.Select(r => r.Text), hits.EnumerateArray().Select(h => h.GetProperty("text").GetString()));
        Assert.Equal(expected.Select(r => r.Score), hits.EnumerateArray().Select(h => h.GetProperty("score").GetSingle()));

        (code, _, err) = CliAppTests.Run("search", "--index", temp.File("idx"), "--query", "a cat", "--rerank-depth", "5");
        Assert.Equal(2, code);
        Assert.Contains("--rerank-depth applies to --rerank", err);
    }
}

public class RerankRouteTests
{
    [SharedFact]
    public async Task RerankAnswersInTeisShapeWithItsLimits()
    {
        using var temp = new TempDir();
        var ceDir = HeadFixtures.ModelDirectory("bert-tiny-cls1", temp);
        var encoder = Semblance.Embeddings.SentenceEncoder.Load(SharedData.FixtureModel("bert-tiny-uncased"));
        var server = Semblance.Server.EmbeddingServer.Create(encoder, new Semblance.Server.EmbeddingServerOptions { Urls = ["http://127.0.0.1:0"], MaxInputsPerRequest = 4 });
        server.Reranker = CrossEncoder.Load(ceDir, new CrossEncoderOptions { Threads = 1 });
        await using var host = await Semblance.Tests.Server.ServerTestHost.StartAsync(server);
        string[] texts = ["stocks fell", "a kitten", "a cat sleeps"];
        var (status, body) = await host.Post("/rerank", new { query = "a cat", texts, return_text = true });
        Assert.Equal(200, status);
        using var reference = CrossEncoder.Load(ceDir, new CrossEncoderOptions { Threads = 1 });
        var expected = reference.Rank("a cat", texts);
        Assert.Equal(expected.Select(r => r.Index), body.EnumerateArray().Select(e => e.GetProperty("index").GetInt32()));
        Assert.Equal(expected.Select(r => r.Score), body.EnumerateArray().Select(e => e.GetProperty("score").GetSingle()));
        Assert.Equal(expected.Select(r => r.Text), body.EnumerateArray().Select(e => e.GetProperty("text").GetString()));

        (status, body) = await host.Post("/rerank", new { query = "a cat", texts, raw_scores = true });
        Assert.Equal(expected.Select(r => r.Index), body.EnumerateArray().Select(e => e.GetProperty("index").GetInt32()));
        Assert.False(body[0].TryGetProperty("text", out _));
        Assert.Equal(reference.Rank("a cat", texts, raw: true)[0].Score, body[0].GetProperty("score").GetSingle());

        (status, _) = await host.Post("/rerank", new { query = "a cat", texts = Array.Empty<string>() });
        Assert.Equal(400, status);
        (status, _) = await host.Post("/rerank", new { query = "a cat", texts = new[] { "a", "b", "c", "d", "e" } });
        Assert.Equal(413, status);
        (status, _) = await host.Post("/rerank", new { texts });
        Assert.Equal(400, status);
    }
}
