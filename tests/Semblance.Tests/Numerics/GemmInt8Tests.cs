// The int8 Linear product: exact against an independent integer reference (asymmetric rows, row outliers), tiers equal, rows independent of batch and threads.
using Semblance.Numerics;

namespace Semblance.Tests.Numerics;

public class GemmInt8Tests
{
    public static TheoryData<string> Kernels()
    {
        var data = new TheoryData<string>();
        foreach (var kernel in Enum.GetValues<Int8Kernel>())
            if (Int8MicroKernel.IsSupported(kernel)) data.Add(kernel.ToString());
        return data;
    }

    private static readonly (int M, int K, int N)[] Shapes =
    [
        (1, 1, 1), (1, 5, 33), (3, 4, 32), (7, 13, 17), (13, 64, 64), (16, 384, 100), (25, 31, 31),
        (37, 300, 65), (100, 520, 64), (130, 257, 96), (2, 40, 50), (5, 9, 31),
    ];

    /// <summary>
    /// The definition, written out: per-channel symmetric weight codes; per row, the <paramref name="outliers"/> largest
    /// |x| (ties to the lower index) taken out, the rest coded as asymmetric uint8 over [min(x, 0), max(x, 0)]; an integer
    /// dot product of (code − zero point) and the weight codes, one scale multiply, then the outliers in float32.
    /// </summary>
    private static float[] Reference(float[] x, int m, int k, float[] w, int n, float[]? bias, int outliers = 0)
    {
        var (wq, ws) = WeightCodes(w, n, k);
        var y = new float[m * n];
        for (int i = 0; i < m; i++)
        {
            var row = x.AsSpan(i * k, k).ToArray();
            var taken = Enumerable.Range(0, k).Where(p => float.IsFinite(row[p]) && row[p] != 0)
                .OrderByDescending(p => Math.Abs(row[p])).ThenBy(p => p).Take(outliers).Order().ToArray();
            var values = taken.Select(p => row[p]).ToArray();
            foreach (int p in taken) row[p] = 0;
            float lo = Math.Min(0f, row.Min()), hi = Math.Max(0f, row.Max()), range = hi - lo;
            float inverse = range == 0 ? 0 : 255f / range, sa = range / 255f;
            int zero = range == 0 ? 0 : (int)Math.Clamp(MathF.Round(-lo * inverse, MidpointRounding.ToEven), 0f, 255f);
            var codes = row.Select(v => (int)Math.Clamp(MathF.Round(v * inverse, MidpointRounding.ToEven) + zero, 0f, 255f) - zero).ToArray();
            for (int j = 0; j < n; j++)
            {
                long sum = 0;
                for (int p = 0; p < k; p++) sum += codes[p] * wq[j * k + p];
                float v = (int)sum * (sa * ws[j]);
                if (taken.Length > 0)
                {
                    float extra = 0;
                    for (int c = 0; c < taken.Length; c++) extra = MathF.FusedMultiplyAdd(values[c], wq[j * k + taken[c]], extra);
                    v = MathF.FusedMultiplyAdd(extra, ws[j], v);
                }
                y[i * n + j] = bias is null ? v : v + bias[j];
            }
        }
        return y;
    }

    /// <summary>‖exact − y‖ / ‖exact‖.</summary>
    private static double RelativeError(float[] exact, float[] y)
    {
        double err = 0, norm = 0;
        for (int i = 0; i < exact.Length; i++)
        {
            err += (exact[i] - y[i]) * (double)(exact[i] - y[i]);
            norm += exact[i] * (double)exact[i];
        }
        return Math.Sqrt(err / norm);
    }

    private static (int[] Codes, float[] Scales) WeightCodes(float[] a, int rows, int k)
    {
        var codes = new int[rows * k];
        var scales = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            float max = 0;
            for (int p = 0; p < k; p++) max = Math.Max(max, Math.Abs(a[r * k + p]));
            scales[r] = max / 127f;
            float inverse = 127f / max;
            for (int p = 0; p < k; p++) codes[r * k + p] = (int)Math.Clamp(MathF.Round(a[r * k + p] * inverse, MidpointRounding.ToEven), -127f, 127f);
        }
        return (codes, scales);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void EveryKernelEqualsTheIntegerReferenceBitwise(string kernel)
    {
        foreach (var (m, k, n) in Shapes)
        {
            var x = NumericsTestData.Random(m * k, m + 7 * k);
            var w = NumericsTestData.Random(n * k, n + 11 * k);
            var bias = NumericsTestData.Random(n, n);
            if (m > 3) x[k + 1] = x[2 * k + 2] = 50f; // ties between spikes, so the lower-index rule is exercised
            foreach (int outliers in new[] { 0, 1, 4 })
            {
                var y = new float[m * n];
                var noBias = new float[m * n];
                using (Gemm.ForceInt8(Enum.Parse<Int8Kernel>(kernel)))
                {
                    Gemm.Linear(x, m, QuantizedWeight.Quantize(w, n, k, rowOutliers: outliers), bias, y, ComputeContext.Single);
                    Gemm.Linear(x, m, QuantizedWeight.Quantize(w, n, k, rowOutliers: outliers), ReadOnlySpan<float>.Empty, noBias, ComputeContext.Single);
                }
                Assert.Equal(Reference(x, m, k, w, n, bias, outliers), y);
                Assert.Equal(Reference(x, m, k, w, n, null, outliers), noBias);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void FusedEpiloguesEqualTheScalarKernel(string kernel)
    {
        var (m, k, n) = (29, 600, 70);
        var x = NumericsTestData.Random(m * k, 1);
        var w = QuantizedWeight.Quantize(NumericsTestData.Random(n * k, 2), n, k, rowOutliers: 4);
        var bias = NumericsTestData.Random(n, 3);
        var residual = NumericsTestData.Random(m * n, 4);
        foreach (var activation in new[] { Activation.Gelu, Activation.GeluTanh })
        {
            var expected = new float[m * n];
            var actual = new float[m * n];
            using (Gemm.ForceInt8(Int8Kernel.Scalar)) Gemm.Linear(x, m, w, bias, activation, expected, ComputeContext.Single);
            using (Gemm.ForceInt8(Enum.Parse<Int8Kernel>(kernel))) Gemm.Linear(x, m, w, bias, activation, actual, ComputeContext.Single);
            Assert.Equal(expected, actual);
        }
        var withResidual = new float[m * n];
        var scalarResidual = new float[m * n];
        using (Gemm.ForceInt8(Int8Kernel.Scalar)) Gemm.Linear(x, m, w, bias, residual, scalarResidual, ComputeContext.Single);
        using (Gemm.ForceInt8(Enum.Parse<Int8Kernel>(kernel))) Gemm.Linear(x, m, w, bias, residual, withResidual, ComputeContext.Single);
        Assert.Equal(scalarResidual, withResidual);
        var plain = new float[m * n];
        Gemm.Linear(x, m, w, bias, plain, ComputeContext.Single);
        for (int i = 0; i < m * n; i++) Assert.Equal(plain[i] + residual[i], withResidual[i]);
    }

    [Fact]
    public void CloseToTheFloatProduct()
    {
        var (m, k, n) = (40, 384, 96);
        var wf = NumericsTestData.Random(n * k, 6);
        // Uniform data, and GELU-like one-sided rows (≥ −0.17, where asymmetric codes have twice the levels of
        // symmetric ones): the relative error is about 1%; a wrong layout or zero point gives ~100%.
        var uniform = NumericsTestData.Random(m * k, 5);
        foreach (var x in new[] { uniform, uniform.Select(v => Math.Max(v, -0.17f) + 0.2f).ToArray() })
        {
            var exact = new float[m * n];
            var quantized = new float[m * n];
            Gemm.Linear(x, m, PackedWeight.Pack(wf, n, k), ReadOnlySpan<float>.Empty, exact, ComputeContext.Single);
            Gemm.Linear(x, m, QuantizedWeight.Quantize(wf, n, k), ReadOnlySpan<float>.Empty, quantized, ComputeContext.Single);
            Assert.InRange(RelativeError(exact, quantized), 0.0, 0.02);
        }
    }

    [Fact]
    public void RowOutliersRescueRowsWithASpike()
    {
        // One channel 40x the rest (BERT's outlier dimensions): without outliers it sets the row's step and the other
        // channels get about 6 levels; taken out, they get the full 255.
        var (m, k, n) = (32, 384, 64);
        var x = NumericsTestData.Random(m * k, 40);
        for (int i = 0; i < m; i++) x[i * k + (7 * i) % k] = i % 2 == 0 ? 40f : -40f;
        var wf = NumericsTestData.Random(n * k, 41);
        var exact = new float[m * n];
        Gemm.Linear(x, m, PackedWeight.Pack(wf, n, k), ReadOnlySpan<float>.Empty, exact, ComputeContext.Single);
        double Error(int outliers)
        {
            var y = new float[m * n];
            Gemm.Linear(x, m, QuantizedWeight.Quantize(wf, n, k, rowOutliers: outliers), ReadOnlySpan<float>.Empty, y, ComputeContext.Single);
            return RelativeError(exact, y);
        }
        double without = Error(0), with = Error(1);
        Assert.True(with < without / 4, $"relative error {with} with one outlier per row, {without} without");
    }

    [Fact]
    public void QuantizeKeepsEachWeightWithinHalfAStep()
    {
        var (n, k) = (45, 37);
        var w = NumericsTestData.Random(n * k, 20);
        w[3 * k + 5] = 0; // a zero row is kept exactly
        for (int p = 0; p < k; p++) w[7 * k + p] = 0;
        var q = QuantizedWeight.Quantize(w, n, k);
        var back = new float[n * k];
        q.Dequantize(back);
        for (int o = 0; o < n; o++)
        {
            float max = 0;
            for (int p = 0; p < k; p++) max = Math.Max(max, Math.Abs(w[o * k + p]));
            for (int p = 0; p < k; p++)
                Assert.True(Math.Abs(back[o * k + p] - w[o * k + p]) <= max / 127f * 0.5001f, $"row {o} col {p}");
        }
        Assert.All(back.AsSpan(7 * k, k).ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void NonFiniteInputRowComesOutNonFiniteAndLeavesOtherRowsAlone()
    {
        var (m, k, n) = (3, 40, 33);
        var x = NumericsTestData.Random(m * k, 30);
        var w = QuantizedWeight.Quantize(NumericsTestData.Random(n * k, 31), n, k);
        var clean = new float[m * n];
        Gemm.Linear(x, m, w, ReadOnlySpan<float>.Empty, clean, ComputeContext.Single);
        x[1 * k + 7] = float.NaN;
        var y = new float[m * n];
        Gemm.Linear(x, m, w, ReadOnlySpan<float>.Empty, y, ComputeContext.Single);
        Assert.All(y.AsSpan(n, n).ToArray(), v => Assert.True(float.IsNaN(v)));
        Assert.Equal(clean.AsSpan(0, n).ToArray(), y.AsSpan(0, n).ToArray());
        Assert.Equal(clean.AsSpan(2 * n, n).ToArray(), y.AsSpan(2 * n, n).ToArray());
        // An infinite entry is never taken out as an outlier: the row still comes out NaN.
        x[1 * k + 7] = 1f;
        x[1 * k + 9] = float.PositiveInfinity;
        Gemm.Linear(x, m, QuantizedWeight.Quantize(NumericsTestData.Random(n * k, 31), n, k, rowOutliers: 2), ReadOnlySpan<float>.Empty, y, ComputeContext.Single);
        Assert.All(y.AsSpan(n, n).ToArray(), v => Assert.True(float.IsNaN(v)));
    }

    [Fact]
    public void ShapeMistakesThrow()
    {
        var w = QuantizedWeight.Quantize(new float[6], 2, 3);
        Assert.Throws<ArgumentException>(() => QuantizedWeight.Quantize(new float[5], 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => QuantizedWeight.Quantize(new float[6], 2, 3, rowOutliers: QuantizedWeight.MaxRowOutliers + 1));
        Assert.Throws<ArgumentException>(() => Gemm.Linear(new float[5], 2, w, ReadOnlySpan<float>.Empty, new float[4], ComputeContext.Single));
        Assert.Throws<ArgumentException>(() => Gemm.Linear(new float[6], 2, w, new float[3], new float[4], ComputeContext.Single));
    }
}
