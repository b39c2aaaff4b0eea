// Seeded random vectors and brute-force reference neighbours for the search tests.
namespace Semblance.Tests.Search;

internal static class SearchTestData
{
    /// <summary>Clustered Gaussian vectors (so neighbours are meaningful), row-major.</summary>
    public static float[] Clustered(int n, int d, int seed, int clusters = 20)
    {
        var rng = new Random(seed);
        var centres = new float[clusters * d];
        for (int i = 0; i < centres.Length; i++) centres[i] = Gaussian(rng);
        var x = new float[n * d];
        for (int i = 0; i < n; i++)
        {
            int c = rng.Next(clusters);
            for (int j = 0; j < d; j++) x[i * d + j] = centres[c * d + j] + 0.5f * Gaussian(rng);
        }
        return x;
    }

    public static float Gaussian(Random rng) =>
        (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));

    public static string[] Ids(int n, int start = 0) => Enumerable.Range(start, n).Select(i => i.ToString()).ToArray();

    /// <summary>Exact top-k slots by the metric's ranking (ip/cosine: largest dot; l2: smallest squared distance).</summary>
    public static int[][] BruteForce(float[] xb, float[] xq, int d, int k, Semblance.Search.Metric metric)
    {
        int n = xb.Length / d, nq = xq.Length / d;
        var r = new int[nq][];
        for (int q = 0; q < nq; q++)
        {
            var s = new (double Score, int Slot)[n];
            for (int i = 0; i < n; i++) s[i] = (Score(xb.AsSpan(i * d, d), xq.AsSpan(q * d, d), metric), i);
            r[q] = s.OrderByDescending(t => t.Score).ThenBy(t => t.Slot).Take(k).Select(t => t.Slot).ToArray();
        }
        return r;
    }

    public static double Score(ReadOnlySpan<float> x, ReadOnlySpan<float> q, Semblance.Search.Metric metric)
    {
        double dot = 0, xx = 0, qq = 0, l2 = 0;
        for (int j = 0; j < x.Length; j++)
        {
            dot += (double)x[j] * q[j];
            xx += (double)x[j] * x[j];
            qq += (double)q[j] * q[j];
            l2 += ((double)x[j] - q[j]) * ((double)x[j] - q[j]);
        }
        return metric switch
        {
            Semblance.Search.Metric.Cosine => dot / Math.Sqrt(xx * qq),
            Semblance.Search.Metric.L2 => -l2,
            _ => dot,
        };
    }

    public static double Recall(Semblance.Search.SearchHit[][] hits, int[][] truth)
    {
        double total = 0;
        for (int q = 0; q < hits.Length; q++)
        {
            var t = truth[q].Select(i => i.ToString()).ToHashSet();
            total += (double)hits[q].Count(h => t.Contains(h.Id)) / truth[q].Length;
        }
        return total / hits.Length;
    }

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "semblance-search-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
