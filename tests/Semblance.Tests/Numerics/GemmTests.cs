// Gemm.Linear, MultiplyABt and MultiplyAB against double references on every SIMD tier, and their determinism.
using Semblance.Numerics;

namespace Semblance.Tests.Numerics;

public class GemmTests
{
    public static TheoryData<string> Levels => NumericsTestData.SupportedLevels();

    /// <summary>
    /// Odd and edge shapes: m = 1, k = 1, n not a multiple of 16 or 32, k over one K-block (256), m over one row
    /// block (96); together the m values produce register tiles of every height from 1 to 12.
    /// </summary>
    private static readonly (int M, int K, int N)[] Shapes =
    [
        (1, 1, 1), (1, 5, 33), (3, 1, 32), (7, 13, 17), (13, 64, 64), (16, 384, 100), (25, 31, 31),
        (37, 300, 65), (100, 520, 64), (130, 257, 96), (12, 96, 160), (2, 40, 50), (4, 17, 64), (5, 9, 31),
    ];

    private static float[] ReferenceLinear(float[] x, int m, int k, float[] w, int n, float[]? bias, float[]? residual, Activation activation, out double[] magnitude)
    {
        var y = new float[m * n];
        magnitude = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = bias?[j] ?? 0, mag = Math.Abs(bias?[j] ?? 0);
                for (int p = 0; p < k; p++)
                {
                    double t = (double)x[i * k + p] * w[j * k + p];
                    sum += t;
                    mag += Math.Abs(t);
                }
                if (residual is not null)
                {
                    sum += residual[i * n + j];
                    mag += Math.Abs(residual[i * n + j]);
                }
                y[i * n + j] = (float)NumericsTestData.Apply(activation, sum);
                magnitude[i * n + j] = mag;
            }
        return y;
    }

    private static void AssertClose(float[] expected, float[] actual, double[] magnitude, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double tol = 1e-6 * (magnitude[i] + 1);
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"{what}: element {i}: {actual[i]} vs {expected[i]} (tolerance {tol:E2})");
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void LinearMatchesDoubleReference(string level)
    {
        foreach (var (m, k, n) in Shapes)
        {
            var x = NumericsTestData.Random(m * k, m + 7 * k);
            var w = NumericsTestData.Random(n * k, n + 11 * k);
            var bias = NumericsTestData.Random(n, n);
            var expected = ReferenceLinear(x, m, k, w, n, bias, null, Activation.None, out var magnitude);
            var y = new float[m * n];
            using (NumericsTestData.Force(level)) Gemm.Linear(x, m, PackedWeight.Pack(w, n, k), bias, y, ComputeContext.Single);
            AssertClose(expected, y, magnitude, $"{level} {m}x{k}x{n}");
            var noBias = new float[m * n];
            var expectedNoBias = ReferenceLinear(x, m, k, w, n, null, null, Activation.None, out magnitude);
            using (NumericsTestData.Force(level)) Gemm.Linear(x, m, PackedWeight.Pack(w, n, k), ReadOnlySpan<float>.Empty, noBias, ComputeContext.Single);
            AssertClose(expectedNoBias, noBias, magnitude, $"{level} {m}x{k}x{n} without bias");
        }
    }

    [Fact]
    public void AllTiersGiveBitwiseIdenticalProducts()
    {
        var (m, k, n) = (29, 600, 70);
        var x = NumericsTestData.Random(m * k, 1);
        var w = PackedWeight.Pack(NumericsTestData.Random(n * k, 2), n, k);
        var bias = NumericsTestData.Random(n, 3);
        float[]? first = null;
        foreach (var level in NumericsTestData.SupportedLevels())
        {
            var y = new float[m * n];
            using (NumericsTestData.Force(level)) Gemm.Linear(x, m, w, bias, y, ComputeContext.Single);
            if (first is null) first = y;
            else Assert.Equal(first, y);
        }
        Assert.NotNull(first);
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void FusedEpiloguesMatchSeparatePasses(string level)
    {
        var (m, k, n) = (21, 300, 77);
        var x = NumericsTestData.Random(m * k, 5);
        var wData = NumericsTestData.Random(n * k, 6, 0.2f);
        var w = PackedWeight.Pack(wData, n, k);
        var bias = NumericsTestData.Random(n, 7);
        using var scope = NumericsTestData.Force(level);
        foreach (var activation in Enum.GetValues<Activation>())
        {
            var expected = ReferenceLinear(x, m, k, wData, n, bias, null, activation, out var magnitude);
            var y = new float[m * n];
            Gemm.Linear(x, m, w, bias, activation, y, ComputeContext.Single);
            AssertClose(expected, y, magnitude, $"{level} {activation}");

            var plain = new float[m * n];
            Gemm.Linear(x, m, w, bias, plain, ComputeContext.Single);
            Kernels.Apply(activation, plain, plain);
            Assert.Equal(plain, y);
        }
        var residual = NumericsTestData.Random(m * n, 8, 3f);
        var expectedResidual = ReferenceLinear(x, m, k, wData, n, bias, residual, Activation.None, out var mag);
        var withResidual = new float[m * n];
        Gemm.Linear(x, m, w, bias, residual, withResidual, ComputeContext.Single);
        AssertClose(expectedResidual, withResidual, mag, $"{level} residual");
    }

    [Fact]
    public void ResultsDoNotDependOnThreadCount()
    {
        var (m, k, n) = (300, 520, 200);
        var x = NumericsTestData.Random(m * k, 9);
        var w = PackedWeight.Pack(NumericsTestData.Random(n * k, 10), n, k);
        var bias = NumericsTestData.Random(n, 11);
        var single = new float[m * n];
        Gemm.Linear(x, m, w, bias, Activation.Gelu, single, ComputeContext.Single);
        foreach (int threads in new[] { 2, 3, 5 })
        {
            using var ctx = new ComputeContext(threads);
            for (int repeat = 0; repeat < 3; repeat++)
            {
                var y = new float[m * n];
                Gemm.Linear(x, m, w, bias, Activation.Gelu, y, ctx);
                Assert.Equal(single, y);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void RowIsBitwiseIdenticalWhateverBatchItIsIn(string level)
    {
        var (m, k, n) = (211, 777, 161);
        var x = NumericsTestData.Random(m * k, 12);
        var w = PackedWeight.Pack(NumericsTestData.Random(n * k, 13), n, k);
        var bias = NumericsTestData.Random(n, 14);
        using var scope = NumericsTestData.Force(level);
        using var ctx = new ComputeContext(2);
        var full = new float[m * n];
        Gemm.Linear(x, m, w, bias, full, ctx);
        foreach (int row in new[] { 0, 5, 97, 210 })
        {
            var alone = new float[n];
            Gemm.Linear(x.AsSpan(row * k, k), 1, w, bias, alone, ComputeContext.Single);
            Assert.Equal(full.AsSpan(row * n, n).ToArray(), alone);
        }
        foreach (int sub in new[] { 2, 13, 16, 100 })
        {
            var part = new float[sub * n];
            Gemm.Linear(x.AsSpan(50 * k, sub * k), sub, w, bias, part, ctx);
            Assert.Equal(full.AsSpan(50 * n, sub * n).ToArray(), part);
        }
    }

    [Fact]
    public void PackRoundTripsTheWeight()
    {
        var w = NumericsTestData.Random(45 * 19, 15);
        var packed = PackedWeight.Pack(w, 45, 19);
        var back = new float[w.Length];
        packed.Unpack(back);
        Assert.Equal(w, back);
        Assert.Equal(45, packed.OutFeatures);
        Assert.Equal(19, packed.InFeatures);
    }

    [Fact]
    public void ShapeMistakesThrow()
    {
        var w = PackedWeight.Pack(new float[6], 2, 3);
        Assert.Throws<ArgumentException>(() => PackedWeight.Pack(new float[5], 2, 3));
        Assert.Throws<ArgumentException>(() => Gemm.Linear(new float[5], 2, w, ReadOnlySpan<float>.Empty, new float[4], ComputeContext.Single));
        Assert.Throws<ArgumentException>(() => Gemm.Linear(new float[6], 2, w, ReadOnlySpan<float>.Empty, new float[3], ComputeContext.Single));
        Assert.Throws<ArgumentException>(() => Gemm.Linear(new float[6], 2, w, new float[3], new float[4], ComputeContext.Single));
        Assert.Throws<ArgumentException>(() => Gemm.Linear(new float[6], 2, w, ReadOnlySpan<float>.Empty, new float[3], new float[4], ComputeContext.Single));
        var shared = new float[10];
        Assert.Throws<ArgumentException>(() => Gemm.Linear(shared.AsSpan(0, 6), 2, w, ReadOnlySpan<float>.Empty, shared.AsSpan(4, 4), ComputeContext.Single));
        var y = new float[4];
        Assert.Throws<ArgumentException>(() => Gemm.Linear(new float[6], 2, w, ReadOnlySpan<float>.Empty, y, y, ComputeContext.Single));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyABt(2, 2, 3, 1f, new float[6], 2, new float[6], 3, new float[4], 2));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyAB(2, 2, 3, new float[6], 3, new float[5], 2, new float[4], 2));
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void MultiplyABtMatchesDoubleReference(string level)
    {
        foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 33, 8), (64, 64, 64), (130, 97, 32), (20, 5, 100), (45, 300, 48), (15, 15, 32), (17, 27, 40) })
        {
            int lda = k + 3, ldb = k + 5, ldc = n + 2;
            var a = NumericsTestData.Random(m * lda, m + k);
            var b = NumericsTestData.Random(n * ldb, n + k + 1);
            var c = NumericsTestData.Random(m * ldc, 3);
            var before = (float[])c.Clone();
            const float alpha = 0.125f;
            using (NumericsTestData.Force(level)) Gemm.MultiplyABt(m, n, k, alpha, a, lda, b, ldb, c, ldc);
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double sum = 0, mag = 0;
                    for (int p = 0; p < k; p++) { double t = (double)a[i * lda + p] * b[j * ldb + p]; sum += t; mag += Math.Abs(t); }
                    Assert.True(Math.Abs(alpha * sum - c[i * ldc + j]) <= 1e-6 * (alpha * mag + 1e-3), $"{level} {m}x{n}x{k} at ({i},{j})");
                }
                for (int j = n; j < ldc; j++) Assert.Equal(before[i * ldc + j], c[i * ldc + j]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void MultiplyABMatchesDoubleReference(string level)
    {
        foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 8, 33), (64, 64, 64), (130, 48, 97), (20, 100, 5), (45, 70, 300) })
        {
            int lda = k + 1, ldb = n + 9, ldc = n + 4;
            var a = NumericsTestData.Random(m * lda, m + k + 2);
            var b = NumericsTestData.Random(k * ldb, n + k + 3);
            var c = NumericsTestData.Random(m * ldc, 4);
            var before = (float[])c.Clone();
            using (NumericsTestData.Force(level)) Gemm.MultiplyAB(m, n, k, a, lda, b, ldb, c, ldc);
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double sum = 0, mag = 0;
                    for (int p = 0; p < k; p++) { double t = (double)a[i * lda + p] * b[p * ldb + j]; sum += t; mag += Math.Abs(t); }
                    Assert.True(Math.Abs(sum - c[i * ldc + j]) <= 1e-6 * (mag + 1e-3), $"{level} {m}x{n}x{k} at ({i},{j})");
                }
                for (int j = n; j < ldc; j++) Assert.Equal(before[i * ldc + j], c[i * ldc + j]);
            }
        }
    }

    [Fact]
    public void ProbeReportsPositiveThroughput()
    {
        var result = GemmProbe.Measure(8, 16, 40, 1, 0.01);
        Assert.True(result.BestSeconds > 0 && result.BestGflops > 0 && result.BestSeconds <= result.MedianSeconds);
        Assert.Equal((8, 16, 40), (result.M, result.K, result.N));
    }
}
