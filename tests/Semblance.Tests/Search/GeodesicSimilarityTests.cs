// Geodesic similarity on two interleaved spirals: graph distances keep neighbours on the query's own arm where
// plain distances jump across to the other arm.
using Semblance.Search;
using Xunit.Abstractions;

namespace Semblance.Tests.Search;

public class GeodesicSimilarityTests(ITestOutputHelper output)
{
    /// <summary>Two arms r = θ and r = θ + π·(spacing) in the plane; label = arm. Slight noise, fixed seed.</summary>
    internal static (float[] Points, int[] Labels) Spirals(int perArm, int seed, float lift = 0)
    {
        var rng = new Random(seed);
        var x = new List<float>();
        var labels = new List<int>();
        for (int arm = 0; arm < 2; arm++)
            for (int i = 0; i < perArm; i++)
            {
                double t = Math.PI / 2 + 3.5 * Math.PI * (i + rng.NextDouble() * 0.5) / perArm;
                double angle = t + arm * Math.PI;
                x.Add((float)(t * Math.Cos(angle) + 0.05 * SearchTestData.Gaussian(rng)));
                x.Add((float)(t * Math.Sin(angle) + 0.05 * SearchTestData.Gaussian(rng)));
                if (lift != 0) x.Add(lift);
                labels.Add(arm);
            }
        return (x.ToArray(), labels.ToArray());
    }

    private static double Purity(SearchHit[][] hits, int[] labels, int[] queryLabels) =>
        hits.Select((h, q) => h.Count(x => labels[int.Parse(x.Id)] == queryLabels[q]) / (double)h.Length).Average();

    [Theory]
    [InlineData(Metric.L2, 0f)]
    [InlineData(Metric.Cosine, 6f)]
    public void GeodesicNeighboursStayOnTheQueryArm(Metric metric, float lift)
    {
        int dims = lift == 0 ? 2 : 3;
        var (xb, labels) = Spirals(300, 1, lift);
        using var index = new FlatIndex(dims, metric);
        index.Add(xb, SearchTestData.Ids(labels.Length));
        var (xq, queryLabels) = Spirals(40, 2, lift);
        const int k = 40;
        double direct = Purity(index.SearchBatch(xq, k), labels, queryLabels);
        var geo = GeodesicSimilarity.Build(index, neighbours: 5);
        var geoHits = geo.Search(xq, k, entryPoints: 1);
        double geodesic = Purity(geoHits, labels, queryLabels);
        output.WriteLine($"{metric}: same-arm fraction of top-{k}: direct {direct:F3}, geodesic {geodesic:F3}");
        Assert.All(geoHits, h => Assert.Equal(k, h.Length));
        Assert.True(geodesic >= 0.97, $"geodesic purity {geodesic}");
        Assert.True(geodesic - direct >= 0.1, $"geodesic {geodesic} should clearly beat direct {direct}");
        // Scores are ordered along the path: cosine scores fall, l2 path lengths grow.
        foreach (var h in geoHits)
            for (int i = 1; i < h.Length; i++)
                Assert.True(metric == Metric.L2 ? h[i].Score >= h[i - 1].Score : h[i].Score <= h[i - 1].Score);
    }

    [Fact]
    public void NearestHitMatchesThePlainMetricAndWorksOnHnsw()
    {
        var (xb, labels) = Spirals(200, 3);
        using var index = new HnswIndex(2, Metric.L2, new HnswOptions { M = 8 }) { Threads = 1 };
        index.Add(xb, SearchTestData.Ids(labels.Length));
        var q = new float[] { 3f, 1f };
        var plain = index.SearchBatch(q, 1)[0][0];
        var geo = GeodesicSimilarity.Build(index, 6).Search(q, 1, entryPoints: 1)[0][0];
        Assert.Equal(plain.Id, geo.Id);
        Assert.Equal(MathF.Sqrt(plain.Score), geo.Score, 4);
    }
}
