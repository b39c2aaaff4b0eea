// Exact index: every encoding and metric against brute force, SIMD and portable kernels, batching and threads.
using Semblance.Search;

namespace Semblance.Tests.Search;

[Collection("search-kernels")]
public class FlatIndexTests
{
    public static TheoryData<FlatEncoding, Metric, bool> Cases()
    {
        var data = new TheoryData<FlatEncoding, Metric, bool>();
        foreach (var e in Enum.GetValues<FlatEncoding>())
            foreach (var m in Enum.GetValues<Metric>())
                foreach (var scalar in new[] { false, true })
                    data.Add(e, m, scalar);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesBruteForce(FlatEncoding encoding, Metric metric, bool scalar)
    {
        const int d = 37, n = 1000, nq = 21, k = 10;
        var xb = SearchTestData.Clustered(n, d, 1);
        var xq = SearchTestData.Clustered(nq, d, 2);
        var truth = SearchTestData.BruteForce(xb, xq, d, k, metric);
        FlatKernels.ForceScalar = scalar;
        // The float kernels' tier is taken on this thread and handed to the search workers.
        using var tier = scalar ? Semblance.Numerics.Simd.Force(Semblance.Numerics.SimdLevel.Scalar) : default;
        try
        {
            using var index = new FlatIndex(d, metric, encoding) { Threads = 2 };
            index.Add(xb, SearchTestData.Ids(n));
            var hits = index.SearchBatch(xq, k);
            double recall = SearchTestData.Recall(hits, truth);
            Assert.True(recall >= (encoding == FlatEncoding.Float32 ? 1.0 : 0.95), $"recall {recall}");
            for (int q = 0; q < nq; q++)
            {
                Assert.Equal(k, hits[q].Length);
                for (int i = 1; i < k; i++)
                    Assert.True(metric == Metric.L2 ? hits[q][i].Score >= hits[q][i - 1].Score : hits[q][i].Score <= hits[q][i - 1].Score);
                // The reported score is the metric's value for that item (l2: squared distance).
                int slot = int.Parse(hits[q][0].Id);
                double expected = SearchTestData.Score(xb.AsSpan(slot * d, d), xq.AsSpan(q * d, d), metric);
                if (metric == Metric.L2) expected = -expected;
                double tol = encoding == FlatEncoding.Float32 ? 1e-3 : 0.05;
                Assert.True(Math.Abs(expected - hits[q][0].Score) <= tol * Math.Max(1, Math.Abs(expected)), $"{expected} vs {hits[q][0].Score}");
            }
        }
        finally
        {
            FlatKernels.ForceScalar = false;
        }
    }

    [Fact]
    public void BatchedAndOneByOneAndThreadCountsAgree()
    {
        const int d = 64, n = 777, nq = 19;
        var xb = SearchTestData.Clustered(n, d, 3);
        var xq = SearchTestData.Clustered(nq, d, 4);
        using var index = new FlatIndex(d, Metric.InnerProduct);
        index.Add(xb, SearchTestData.Ids(n));
        index.Threads = 1;
        var batched = index.SearchBatch(xq, 5);
        index.Threads = 2;
        var threaded = index.SearchBatch(xq, 5);
        for (int q = 0; q < nq; q++)
        {
            var one = index.SearchBatch(xq.AsSpan(q * d, d), 5)[0];
            Assert.Equal(batched[q].Select(h => h.Id), one.Select(h => h.Id));
            Assert.Equal(batched[q].Select(h => h.Id), threaded[q].Select(h => h.Id));
        }
    }

    [Fact]
    public void Int8RerankReachesHighRecallOnClusteredData()
    {
        const int d = 128, n = 5000, nq = 50, k = 10;
        var xb = SearchTestData.Clustered(n, d, 5, clusters: 50);
        var xq = SearchTestData.Clustered(nq, d, 6, clusters: 50);
        var truth = SearchTestData.BruteForce(xb, xq, d, k, Metric.Cosine);
        using var index = new FlatIndex(d, Metric.Cosine, FlatEncoding.Int8);
        index.Add(xb, SearchTestData.Ids(n));
        Assert.True(SearchTestData.Recall(index.SearchBatch(xq, k), truth) >= 0.99);
    }

    [Fact]
    public void RemovedItemsAreSkippedAndKBeyondCountReturnsAll()
    {
        const int d = 8;
        var xb = SearchTestData.Clustered(20, d, 7);
        using var index = new FlatIndex(d, Metric.L2);
        index.Add(xb, SearchTestData.Ids(20));
        Assert.Equal(2, index.Remove(["3", "5", "nope"]));
        Assert.Equal(18, index.Count);
        var hits = index.SearchBatch(xb.AsSpan(3 * d, d), 100)[0];
        Assert.Equal(18, hits.Length);
        Assert.DoesNotContain(hits, h => h.Id is "3" or "5");
    }

    [Fact]
    public void TextsComeBackWithHits()
    {
        using var index = new FlatIndex(2, Metric.Cosine);
        index.Add(new float[] { 1, 0, 0, 1 }, ["a", "b"], ["first", "{\"x\":1}"]);
        var hit = index.SearchBatch(new float[] { 0.1f, 1 }, 1)[0][0];
        Assert.Equal(("b", "{\"x\":1}"), (hit.Id, hit.Text));
    }
}
