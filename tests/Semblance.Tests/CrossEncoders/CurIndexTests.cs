// CUR retrieval with a cross-encoder: the approximation's algebra, the index built and reopened, and the CLI's errors.
using Semblance.CrossEncoders;
using Semblance.Search;
using Semblance.Tests.Cli;
using Semblance.Tests.Models;

namespace Semblance.Tests.CrossEncoders;

public class CurApproximationTests
{
    [Fact]
    public void WithEveryItemAnAnchorAndRFullColumnRankTheApproximationIsTheQuerysOwnScores()
    {
        const int kq = 9, n = 6;
        var rng = new Random(3);
        var r = Enumerable.Range(0, kq * n).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        int[] anchors = [4, 0, 5, 2, 1, 3];
        var cur = CurApproximation.Fit(r, kq, n, anchors, relativeCutoff: 0);
        Assert.Equal(n, cur.Rank);
        var scores = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        var approx = cur.Approximate(anchors.Select(a => scores[a]).ToArray());
        for (int i = 0; i < n; i++) Assert.True(Math.Abs(approx[i] - scores[i]) < 1e-4, $"item {i}: {approx[i]} vs {scores[i]}");
    }

    [Fact]
    public void AnAnchorQuerysRowIsReproducedAndTheCutOffDropsTinySingularValues()
    {
        const int kq = 4, n = 7;
        // Rank-2 R: every row a mix of two item profiles; the cut-off must see rank 2 and still reproduce each row.
        float[] p1 = [1, 2, 0, -1, 3, 0.5f, 2], p2 = [0, 1, 1, 2, -1, 1, 0];
        var r = new float[kq * n];
        for (int q = 0; q < kq; q++)
            for (int i = 0; i < n; i++) r[q * n + i] = (q + 1) * p1[i] + (2 - q) * p2[i];
        int[] anchors = [1, 3, 6];
        var cur = CurApproximation.Fit(r, kq, n, anchors, relativeCutoff: 1e-5);
        Assert.Equal(2, cur.Rank);
        for (int q = 0; q < kq; q++)
        {
            var approx = cur.Approximate(anchors.Select(a => r[q * n + a]).ToArray());
            for (int i = 0; i < n; i++) Assert.True(Math.Abs(approx[i] - r[q * n + i]) < 1e-4, $"row {q} item {i}");
        }
        var candidates = cur.Candidates(anchors.Select(a => r[a]).ToArray(), depth: 2);
        Assert.Equal([5, 2], candidates);   // row 0 = p1 + 2 p2 = [1, 4, 2, 3, 1, 2.5, 2]; non-anchor items 0, 2, 4, 5
    }

    [Fact]
    public void AnchorsFromRankingsTakeEveryQuerysBestFirstThenFillFromASeededSample()
    {
        int[][] rankings = [[5, 1, 2], [5, 7, 1], [3, 1]];
        Assert.Equal([5, 3, 1, 7], CurAnchors.FromRankings(rankings, 10, 4, seed: 1));
        var filled = CurAnchors.FromRankings([[2]], 10, 5, seed: 1);
        Assert.Equal(2, filled[0]);
        Assert.Equal(5, filled.Distinct().Count());
        Assert.Equal(filled, CurAnchors.FromRankings([[2]], 10, 5, seed: 1));
        Assert.Equal(CurAnchors.Random(10, 4, 7), CurAnchors.Random(10, 4, 7));
    }

    [Fact]
    public void BadAnchorsAreRejected()
    {
        var r = new float[2 * 3];
        Assert.Throws<ArgumentException>(() => CurApproximation.Fit(r, 2, 3, [0, 0], 1e-4));
        Assert.Throws<ArgumentException>(() => CurApproximation.Fit(r, 2, 3, [3], 1e-4));
    }
}

public class CurIndexTests
{
    private static readonly string[] Items = ["a cat sits on the mat", "stocks fell sharply today", "a kitten is sleeping", "the market rallied", "dogs bark at night", "rain is expected tomorrow"];
    private static readonly string[] AnchorQueries = ["a cat", "the stock market", "a dog barking", "weather forecast", "kittens", "shares dropped", "a sleeping pet", "sunny weather"];

    [SharedFact]
    public void WithEveryItemAnAnchorTheApproximateScoresAreTheCrossEncodersAndSearchIsExact()
    {
        using var temp = new TempDir();
        var dir = HeadFixtures.ModelDirectory("bert-tiny-cls1", temp);
        using var ce = CrossEncoder.Load(dir, new CrossEncoderOptions { Threads = 1 });
        using var cur = CurIndex.Build(ce, dir, Items, null, AnchorQueries, new CurBuildOptions { AnchorItems = Items.Length, RelativeCutoff = 0 });
        Assert.Equal(Items.Length, cur.Approximation.Rank);
        const string query = "a kitten on a mat";
        var exact = ce.Score([.. Items.Select(t => (query, t))], raw: true);
        var c = cur.Approximation.AnchorItems.Select(a => exact[a]).ToArray();
        var approx = cur.Approximation.Approximate(c);
        double spread = exact.Max() - exact.Min();
        for (int i = 0; i < Items.Length; i++) Assert.True(Math.Abs(approx[i] - exact[i]) <= 1e-3 * spread, $"item {i}: {approx[i]} vs {exact[i]}");
        var hits = cur.Search(query, k: 3, depth: 0);
        var expected = ce.Rank(query, Items, 3, raw: true);
        Assert.Equal(expected.Select(e => e.Text), hits.Select(h => h.Text));
        Assert.Equal(expected.Select(e => e.Score), hits.Select(h => h.Score));
        Assert.Equal(AnchorQueries.Length * (long)Items.Length, cur.OfflineCalls);
    }

    [SharedFact]
    public void TheIndexSurvivesReopeningAndRecordsItsCrossEncoder()
    {
        using var temp = new TempDir();
        var dir = HeadFixtures.ModelDirectory("bert-tiny-cls1", temp);
        File.WriteAllLines(temp.File("items.txt"), Items);
        File.WriteAllLines(temp.File("anchors.txt"), AnchorQueries);
        var (code, stdout, err) = CliAppTests.Run("index", "build", "--kind", "cur", "--model", dir, "--input", temp.File("items.txt"),
            "--anchor-queries", temp.File("anchors.txt"), "--anchor-items", "3", "--seed", "5", "--max-length", "32", "--output", temp.File("idx"), "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("kind=cur count=6 anchor_queries=8 anchor_items=3", stdout);
        var manifest = VectorIndex.ReadInfo(temp.File("idx"));
        Assert.Equal("cur", manifest.Kind);
        Assert.Equal(IndexEncoder.ComputeModelChecksum(dir), manifest.Encoder!.ModelChecksum);
        Assert.Equal(32, (int)manifest.Parameters["max_length"]!);

        (code, stdout, err) = CliAppTests.Run("search", "--index", temp.File("idx"), "--query", "a kitten", "-k", "2", "--rerank-depth", "1", "--threads", "1");
        Assert.True(code == 0, err);
        var hits = System.Text.Json.JsonDocument.Parse(stdout.Trim()).RootElement.GetProperty("hits");
        using var reopened = CurIndex.Open(temp.File("idx"), new CurIndexOptions { Threads = 1 });
        Assert.Equal(3, reopened.Approximation.AnchorItems.Count);
        var again = reopened.Search("a kitten", 2, 1);
        Assert.Equal(again.Select(h => h.Id), hits.EnumerateArray().Select(h => h.GetProperty("id").GetString()));
        Assert.Equal(again.Select(h => h.Score), hits.EnumerateArray().Select(h => h.GetProperty("score").GetSingle()));
        // The scores are exact cross-encoder scores (at the recorded max length) of the items returned.
        using var ce = CrossEncoder.Load(dir, new CrossEncoderOptions { Threads = 1, MaxLength = 32 });
        Assert.Equal(ce.Score([.. again.Select(h => ("a kitten", h.Text!))], raw: true), again.Select(h => h.Score));
        // Rebuilding with the same seed gives the same matrices.
        using var built = CurIndex.Build(ce, dir, Items, null, AnchorQueries, new CurBuildOptions { AnchorItems = 3, Seed = 5 });
        Assert.Equal(built.Approximation.AnchorItems, reopened.Approximation.AnchorItems);
        Assert.True(built.R.SequenceEqual(reopened.R));
        Assert.True(built.Approximation.U.SequenceEqual(reopened.Approximation.U));

        var e = Assert.Throws<InputFormatException>(() => VectorIndex.Load(temp.File("idx")));
        Assert.Contains("CUR (cross-encoder) index holds no vectors", e.Message);
    }

    [SharedFact]
    public void BiEncoderSeededAnchorsAreTheItemsTheBiEncoderRetrievesForTheAnchorQueries()
    {
        using var temp = new TempDir();
        var dir = HeadFixtures.ModelDirectory("bert-tiny-cls1", temp);
        var bi = SharedData.FixtureModel("bert-tiny-uncased");
        File.WriteAllLines(temp.File("items.txt"), Items);
        File.WriteAllLines(temp.File("anchors.txt"), AnchorQueries[..2]);
        var (code, _, err) = CliAppTests.Run("index", "build", "--kind", "cur", "--model", dir, "--input", temp.File("items.txt"), "--anchor-queries", temp.File("anchors.txt"),
            "--anchor-items", "2", "--anchor-selection", "bi-encoder", "--bi-encoder", bi, "--output", temp.File("idx"), "--threads", "1");
        Assert.True(code == 0, err);
        using var encoder = Semblance.Embeddings.SentenceEncoder.Load(bi);
        var nearest = CurAnchors.Nearest(encoder, AnchorQueries[..2], Items, 1);
        using var index = CurIndex.Open(temp.File("idx"));
        Assert.Equal(CurAnchors.FromRankings(nearest, Items.Length, 2, 42), index.Approximation.AnchorItems);
        Assert.Equal("bi-encoder", (string)index.Parameters["anchor_selection"]!);
    }

    [SharedFact]
    public void BadInputsAreOneLineErrors()
    {
        using var temp = new TempDir();
        var dir = HeadFixtures.ModelDirectory("bert-tiny-cls1", temp);
        File.WriteAllLines(temp.File("items.txt"), Items);
        File.WriteAllLines(temp.File("anchors.txt"), AnchorQueries);
        File.WriteAllText(temp.File("empty.txt"), "");
        string[] Build(params string[] extra) => ["index", "build", "--kind", "cur", "--output", temp.File("idx"), .. extra];
        var (code, _, err) = CliAppTests.Run(Build("--model", SharedData.FixtureModel("bert-tiny-uncased"), "--input", temp.File("items.txt"), "--anchor-queries", temp.File("anchors.txt")));
        Assert.Equal(1, code);
        Assert.Contains("not a cross-encoder", err);
        (code, _, err) = CliAppTests.Run(Build("--model", dir, "--input", temp.File("empty.txt"), "--anchor-queries", temp.File("anchors.txt")));
        Assert.Equal(1, code);
        Assert.Contains("empty.txt: no items", err);
        (code, _, err) = CliAppTests.Run(Build("--model", dir, "--input", temp.File("items.txt"), "--anchor-queries", temp.File("empty.txt")));
        Assert.Equal(1, code);
        Assert.Contains("empty.txt: no anchor queries", err);
        (code, _, err) = CliAppTests.Run(Build("--model", dir, "--input", temp.File("items.txt"), "--anchor-queries", temp.File("anchors.txt"), "--anchor-items", "7"));
        Assert.Equal(2, code);
        Assert.Contains("--anchor-items 7: ", err);
        Assert.Contains("has only 6 items", err);
        (code, _, err) = CliAppTests.Run(Build("--model", dir, "--input", temp.File("items.txt"), "--anchor-queries", temp.File("anchors.txt"), "--anchor-selection", "bi-encoder"));
        Assert.Equal(2, code);
        Assert.Contains("needs --bi-encoder", err);
        (code, _, err) = CliAppTests.Run("index", "build", "--output", temp.File("idx"), "--model", dir, "--input", temp.File("items.txt"), "--anchor-items", "2");
        Assert.Equal(2, code);
        Assert.Contains("--anchor-items applies to --kind cur", err);
        Assert.False(File.Exists(Path.Combine(temp.File("idx"), "manifest.json")));
        foreach (var line in err.Split('\n', StringSplitOptions.RemoveEmptyEntries)) Assert.DoesNotContain("   at ", line);
    }
}

public class BenchCurTests
{
    [SharedFact]
    public void RecallIsOneWhenTheBudgetCoversTheCorpusAndScoresAreCachedBetweenRuns()
    {
        using var temp = new TempDir();
        var ce = HeadFixtures.ModelDirectory("bert-tiny-cls1", temp);
        File.WriteAllLines(temp.File("corpus.txt"), ["a cat sits on the mat", "stocks fell sharply today", "a kitten is sleeping", "the market rallied", "dogs bark at night", "rain is expected tomorrow"]);
        File.WriteAllLines(temp.File("tests.txt"), ["a kitten", "shares fell"]);
        File.WriteAllLines(temp.File("anchors.txt"), ["a cat", "the stock market", "a dog barking", "weather forecast"]);
        string[] command = ["bench", "cur", "--model", ce, "--bi-encoder", SharedData.FixtureModel("bert-tiny-uncased"), "--corpus", temp.File("corpus.txt"),
            "--queries", temp.File("tests.txt"), "--anchor-queries", temp.File("anchors.txt"), "--cache", temp.File("cache"),
            "--anchor-items", "2,3", "--budgets", "2,6", "-k", "3", "--threads", "1"];
        var (code, stdout, err) = CliAppTests.Run(command);
        Assert.True(code == 0, err);
        Assert.Contains("2 of 2 test queries and 4 of 4 anchor queries scored", stdout);
        Assert.Contains("| 6 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 |", stdout);
        Assert.Contains("| 2 | ", stdout);
        Assert.Contains("scored anchor query 4", err);
        (code, var again, err) = CliAppTests.Run(command);
        Assert.True(code == 0, err);
        Assert.DoesNotContain("scored", err);
        Assert.Equal(stdout.Split('\n').Where(l => l.StartsWith('|')), again.Split('\n').Where(l => l.StartsWith('|')));
    }
}
