// HNSW: recall against brute force, determinism for a seed, deletions, level distribution, and persistence.
using Semblance.Search;

namespace Semblance.Tests.Search;

public class HnswIndexTests
{
    [Theory]
    [InlineData(Metric.Cosine)]
    [InlineData(Metric.InnerProduct)]
    [InlineData(Metric.L2)]
    public void RecallIsHighOnClusteredData(Metric metric)
    {
        const int d = 32, n = 4000, nq = 50, k = 10;
        var xb = SearchTestData.Clustered(n, d, 11, clusters: 40);
        var xq = SearchTestData.Clustered(nq, d, 12, clusters: 40);
        var truth = SearchTestData.BruteForce(xb, xq, d, k, metric);
        using var index = new HnswIndex(d, metric, new HnswOptions { M = 12, EfConstruction = 100 }) { Threads = 2 };
        index.Add(xb, SearchTestData.Ids(n));
        double recall = SearchTestData.Recall(index.SearchBatch(xq, k, new SearchOptions { EfSearch = 100 }), truth);
        // Inner product on unnormalised vectors is not a metric (no triangle inequality), so graph search is weaker there.
        Assert.True(recall >= (metric == Metric.InnerProduct ? 0.85 : 0.95), $"recall {recall}");
        var first = index.SearchBatch(xq, 1)[0][0];
        double expected = SearchTestData.Score(xb.AsSpan(int.Parse(first.Id) * d, d), xq.AsSpan(0, d), metric);
        Assert.Equal(metric == Metric.L2 ? -expected : expected, first.Score, 2);
    }

    [Theory]
    [InlineData(Metric.Cosine)]
    [InlineData(Metric.L2)]
    public void EveryDistanceTierFindsTheSameNeighbours(Metric metric)
    {
        const int d = 40, k = 5;
        using var index = new HnswIndex(d, metric, new HnswOptions { M = 8, EfConstruction = 64 }) { Threads = 1 };
        index.Add(SearchTestData.Clustered(1500, d, 13, clusters: 30));
        var xq = SearchTestData.Clustered(20, d, 14, clusters: 30);
        string? first = null;
        foreach (var level in Semblance.Tests.Numerics.NumericsTestData.SupportedLevels())
        {
            using var tier = Semblance.Tests.Numerics.NumericsTestData.Force(level);
            var hits = index.SearchBatch(xq, k, new SearchOptions { EfSearch = 64 });
            // The ids agree across tiers; the scores to float rounding.
            var ids = string.Join(";", hits.Select(h => string.Join(",", h.Select(x => x.Id))));
            first ??= ids;
            Assert.Equal(first, ids);
        }
        Assert.NotNull(first);
    }

    [Fact]
    public void SingleThreadedBuildIsDeterministicForASeed()
    {
        const int d = 16, n = 1500;
        var xb = SearchTestData.Clustered(n, d, 13);
        var xq = SearchTestData.Clustered(20, d, 14);
        string Run(int seed)
        {
            using var index = new HnswIndex(d, Metric.L2, new HnswOptions { M = 8, EfConstruction = 40, Seed = seed }) { Threads = 1 };
            index.Add(xb, SearchTestData.Ids(n));
            return string.Join(";", index.SearchBatch(xq, 5, new SearchOptions { EfSearch = 10 }).Select(h => string.Join(",", h.Select(x => x.Id + ":" + x.Score))));
        }
        Assert.Equal(Run(1), Run(1));
    }

    [Fact]
    public void RemovedItemsAreNeverReturned()
    {
        const int d = 16, n = 2000;
        var xb = SearchTestData.Clustered(n, d, 15);
        using var index = new HnswIndex(d, Metric.Cosine) { Threads = 1 };
        index.Add(xb, SearchTestData.Ids(n));
        var removed = Enumerable.Range(0, n).Where(i => i % 3 == 0).Select(i => i.ToString()).ToHashSet();
        Assert.Equal(removed.Count, index.Remove(removed));
        var hits = index.SearchBatch(xb, 10);
        Assert.All(hits, h => Assert.DoesNotContain(h, x => removed.Contains(x.Id)));
        Assert.All(hits, h => Assert.Equal(10, h.Length));
        // A live item finds itself first even though a third of the graph is removed.
        Assert.Equal("1", index.SearchBatch(xb.AsSpan(d, d), 1)[0][0].Id);
    }

    [Fact]
    public void SaveLoadRoundTripsAndIncrementalAddsKeepWorking()
    {
        const int d = 24;
        var xb = SearchTestData.Clustered(1200, d, 16);
        var dir = SearchTestData.TempDir();
        var xq = SearchTestData.Clustered(10, d, 17);
        string before;
        using (var index = new HnswIndex(d, Metric.InnerProduct, new HnswOptions { M = 8 }) { Threads = 1 })
        {
            index.Add(xb.AsSpan(0, 1000 * d), SearchTestData.Ids(1000));
            index.Remove(["7"]);
            index.Save(dir);
            before = Describe(index.SearchBatch(xq, 5));
        }
        using (var loaded = VectorIndex.Load(dir))
        {
            Assert.IsType<HnswIndex>(loaded);
            Assert.Equal(999, loaded.Count);
            Assert.Equal(before, Describe(loaded.SearchBatch(xq, 5)));
            loaded.Add(xb.AsSpan(1000 * d), SearchTestData.Ids(200, 1000));
            loaded.Save(dir);
        }
        using var again = VectorIndex.Load(dir);
        Assert.Equal(1199, again.Count);
        Assert.Equal("1100", again.SearchBatch(xb.AsSpan(1100 * d, d), 1)[0][0].Id);
        Assert.False(again.Contains("7"));
    }

    private static string Describe(SearchHit[][] hits) => string.Join(";", hits.Select(h => string.Join(",", h.Select(x => x.Id))));
}
