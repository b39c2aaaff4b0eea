// Tests for BERT-whitening: the decomposition, streaming fit, edge cases and the saved file.
using Semblance.Embeddings;

namespace Semblance.Tests.Embeddings;

public class WhiteningTests
{
    // Rows (s,s), (−s,−s), (t,−t), (−t,t) with s = 1.5, t = √3/2 have mean 0 and covariance (÷ n−1 = 3)
    // [[2,1],[1,2]] = U diag(3, 1) Uᵀ with U = [(1,1), (1,−1)]/√2.
    private static float[] KnownData()
    {
        float s = 1.5f, t = (float)(Math.Sqrt(3) / 2);
        return [s, s, -s, -s, t, -t, -t, t];
    }

    [Fact]
    public void Fit_MatchesKnownDecomposition()
    {
        var w = Whitening.Fit(KnownData(), 4, 2);
        Assert.Equal(2, w.OutputDimension);
        Assert.Equal(3.0, w.Eigenvalues![0], 6);
        Assert.Equal(1.0, w.Eigenvalues[1], 6);
        Assert.Equal(1.0, w.ExplainedVariance, 6);
        double r2 = 1 / Math.Sqrt(2);
        var k = w.Kernel.ToArray();
        Assert.Equal(r2 / Math.Sqrt(3), k[0], 5);
        Assert.Equal(r2, k[1], 5);
        Assert.Equal(r2 / Math.Sqrt(3), k[2], 5);
        Assert.Equal(-r2, k[3], 5);
        Assert.Equal(0f, w.Mean[0], 6);
    }

    [Fact]
    public void Fit_KeepsLargestDirectionsFirst()
    {
        var w = Whitening.Fit(KnownData(), 4, 2, k: 1);
        Assert.Equal(1, w.OutputDimension);
        Assert.Equal(0.75, w.ExplainedVariance, 6);
        var out1 = new float[1];
        w.Apply(new float[] { 1.5f, 1.5f }, out1, 1);
        // (1.5, 1.5)·(1,1)/√2/√3 = 3/√6
        Assert.Equal(3 / Math.Sqrt(6), out1[0], 5);
    }

    private static float[] Correlated(int n, int d, int seed, float offset)
    {
        var rng = new Random(seed);
        var mix = new double[d * d];
        for (int i = 0; i < mix.Length; i++) mix[i] = rng.NextDouble() * 2 - 1;
        var x = new float[n * d];
        var z = new double[d];
        for (int r = 0; r < n; r++)
        {
            for (int i = 0; i < d; i++) z[i] = rng.NextDouble() * 2 - 1;
            for (int j = 0; j < d; j++)
            {
                double v = offset;
                for (int i = 0; i < d; i++) v += z[i] * mix[i * d + j] * (i + 1);
                x[r * d + j] = (float)v;
            }
        }
        return x;
    }

    [Fact]
    public void Whitened_HasZeroMeanAndIdentityCovariance_EvenWithLargeOffset()
    {
        const int n = 2000, d = 6;
        var x = Correlated(n, d, 1, 1000f);
        var w = Whitening.Fit(x, n, d);
        var y = new float[n * d];
        w.Apply(x, y, n);
        for (int a = 0; a < d; a++)
        {
            double ma = 0;
            for (int r = 0; r < n; r++) ma += y[r * d + a];
            Assert.True(Math.Abs(ma / n) < 1e-2, $"mean[{a}] = {ma / n}");
            for (int b = 0; b < d; b++)
            {
                double c = 0;
                for (int r = 0; r < n; r++) c += y[r * d + a] * (double)y[r * d + b];
                Assert.True(Math.Abs(c / (n - 1) - (a == b ? 1 : 0)) < 2e-2, $"cov[{a},{b}] = {c / (n - 1)}");
            }
        }
    }

    [Fact]
    public void StreamingInChunks_EqualsOneShot()
    {
        const int n = 300, d = 40;
        var x = Correlated(n, d, 2, 3f);
        var one = Whitening.Fit(x, n, d, 10);
        var acc = new WhiteningAccumulator(d);
        acc.Add(x.AsSpan(0, 7 * d), 7);
        acc.Add(x.AsSpan(7 * d, 200 * d), 200);
        acc.Add(x.AsSpan(207 * d), n - 207);
        var chunked = acc.Fit(10);
        Assert.Equal(n, chunked.Count);
        for (int i = 0; i < d * 10; i++) Assert.Equal(one.Kernel[i], chunked.Kernel[i], 3);
        for (int i = 0; i < d; i++) Assert.Equal(one.Mean[i], chunked.Mean[i], 4);
    }

    [Fact]
    public void FewerVectorsThanDimensions_FullFitIsAnErrorNamingNAndD_ButRankFitWorks()
    {
        const int n = 5, d = 8;
        var x = Correlated(n, d, 3, 0f);
        Assert.Equal(4, Whitening.Fit(x, n, d).OutputDimension);
        var e = Assert.Throws<InputFormatException>(() => Whitening.Fit(x, n, d, k: d));
        Assert.Contains("n = 5", e.Message);
        Assert.Contains("d = 8", e.Message);
        Assert.Contains("rank 4", e.Message);
        var w = Whitening.Fit(x, n, d, k: 4);
        Assert.Equal(4, w.OutputDimension);
        Assert.Equal(1.0, w.ExplainedVariance, 6);
    }

    [Fact]
    public void ZeroVarianceDirection_CannotBeKept()
    {
        const int n = 50, d = 3;
        var x = Correlated(n, d, 4, 0f);
        for (int r = 0; r < n; r++) x[r * d + 2] = 7f;
        var e = Assert.Throws<InputFormatException>(() => Whitening.Fit(x, n, d, 3));
        Assert.Contains("only 2 of d = 3", e.Message);
        Assert.Equal(2, Whitening.Fit(x, n, d).OutputDimension);
        Assert.Equal(2, Whitening.Fit(x, n, d, 2).OutputDimension);
    }

    [Fact]
    public void BadK_AndNonFiniteRows_AreErrors()
    {
        var x = Correlated(20, 3, 5, 0f);
        Assert.Contains("exceeds", Assert.Throws<SemblanceException>(() => Whitening.Fit(x, 20, 3, 4)).Message);
        Assert.Equal(3, Whitening.Fit(x, 20, 3, 0).OutputDimension);
        var acc = new WhiteningAccumulator(3, "v.npy");
        acc.Add(x.AsSpan(0, 30), 10);
        x[12 * 3 + 1] = float.NaN;
        var e = Assert.Throws<InputFormatException>(() => acc.Add(x.AsSpan(30), 10));
        Assert.Equal("v.npy: row 13: value NaN at column 2; whitening needs finite vectors", e.Message);
        Assert.Throws<InputFormatException>(() => Whitening.Fit(new float[] { 1, 2, 3 }, 1, 3));
        Assert.Throws<InputFormatException>(() => Whitening.Fit(new float[] { 1, 2, 1, 2, 1, 2 }, 3, 2));
    }

    [Fact]
    public void SaveLoad_RoundTripsWithProvenance()
    {
        var dir = Directory.CreateTempSubdirectory("semblance-whiten-");
        try
        {
            var x = Correlated(100, 5, 6, 1f);
            var w = Whitening.Fit(x, 100, 5, 3);
            w = new Whitening(w.Mean.ToArray(), w.Kernel.ToArray(), 3, w.Count, w.ExplainedVariance) { Encoder = "models/x", Pooling = "cls" };
            var path = Path.Combine(dir.FullName, "w.safetensors");
            w.Save(path);
            var back = Whitening.Load(path);
            Assert.Equal(5, back.InputDimension);
            Assert.Equal(3, back.OutputDimension);
            Assert.Equal(100, back.Count);
            Assert.Equal("models/x", back.Encoder);
            Assert.Equal("cls", back.Pooling);
            Assert.Equal(w.ExplainedVariance, back.ExplainedVariance);
            Assert.Equal(w.Kernel.ToArray(), back.Kernel.ToArray());
            Assert.Equal(w.Mean.ToArray(), back.Mean.ToArray());
            Assert.Single(Directory.GetFiles(dir.FullName));

            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..(bytes.Length - 4)]);
            Assert.Throws<ModelFormatException>(() => Whitening.Load(path));
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void Truncate_EqualsFittingWithSmallerK()
    {
        var x = Correlated(200, 6, 7, 0f);
        var full = Whitening.Fit(x, 200, 6);
        var two = Whitening.Fit(x, 200, 6, 2);
        var cut = full.Truncate(2);
        Assert.Equal(two.Kernel.ToArray(), cut.Kernel.ToArray());
        Assert.Equal(two.ExplainedVariance, cut.ExplainedVariance, 9);
    }
}
