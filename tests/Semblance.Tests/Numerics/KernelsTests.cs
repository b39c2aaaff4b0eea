// LayerNorm, softmax, L2 normalisation and the simple activations against double references.
using Semblance.Numerics;

namespace Semblance.Tests.Numerics;

public class KernelsTests
{
    private static double[] ReferenceLayerNorm(float[] x, float[] gamma, float[] beta, double eps, int rows, int cols)
    {
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double mean = 0, var = 0;
            for (int i = 0; i < cols; i++) mean += x[r * cols + i];
            mean /= cols;
            for (int i = 0; i < cols; i++) var += (x[r * cols + i] - mean) * (x[r * cols + i] - mean);
            var /= cols;
            for (int i = 0; i < cols; i++) y[r * cols + i] = (x[r * cols + i] - mean) / Math.Sqrt(var + eps) * gamma[i] + beta[i];
        }
        return y;
    }

    [Theory]
    [InlineData(1, 1, 0f)]
    [InlineData(3, 17, 0f)]
    [InlineData(5, 384, 0f)]
    [InlineData(4, 768, 100f)]
    [InlineData(130, 33, -20f)]
    public void LayerNormMatchesBiasedVarianceReference(int rows, int cols, float offset)
    {
        var x = NumericsTestData.Random(rows * cols, rows * cols, 3f, offset);
        var gamma = NumericsTestData.Random(cols, 1, 1f, 1f);
        var beta = NumericsTestData.Random(cols, 2);
        const float eps = 1e-12f;
        var expected = ReferenceLayerNorm(x, gamma, beta, eps, rows, cols);
        var y = new float[x.Length];
        Kernels.LayerNorm(x, gamma, beta, eps, y, rows, cols);
        for (int i = 0; i < y.Length; i++)
            Assert.True(Math.Abs(y[i] - expected[i]) <= 2e-6 * (1 + Math.Abs(expected[i])), $"element {i}: {y[i]} vs {expected[i]}");

        var inPlace = (float[])x.Clone();
        Kernels.LayerNorm(inPlace, gamma, beta, eps, inPlace, rows, cols);
        Assert.Equal(y, inPlace);

        using var ctx = new ComputeContext(2);
        var threaded = new float[x.Length];
        Kernels.LayerNorm(x, gamma, beta, eps, threaded, rows, cols, ctx);
        Assert.Equal(y, threaded);
    }

    [Fact]
    public void LayerNormOfConstantRowIsBeta()
    {
        var x = Enumerable.Repeat(5f, 8).ToArray();
        var gamma = NumericsTestData.Random(8, 3);
        var beta = NumericsTestData.Random(8, 4);
        var y = new float[8];
        Kernels.LayerNorm(x, gamma, beta, 1e-5f, y, 1, 8);
        Assert.Equal(beta, y);
    }

    public static TheoryData<string> Levels => NumericsTestData.SupportedLevels();

    [Theory]
    [MemberData(nameof(Levels))]
    public void SoftmaxRowsMasksAndNormalises(string level)
    {
        foreach (var (rows, cols, valid) in new[] { (4, 37, 29), (2, 16, 16), (3, 100, 7), (1, 1, 1), (2, 513, 500), (3, 64, 50), (15, 15, 15), (2, 40, 17) })
        {
            var x = NumericsTestData.Random(rows * cols, cols, 10f);
            if (valid > 1) x[0] = float.NegativeInfinity;
            if (valid > 3) x[cols + 2] = -200f;
            var original = (float[])x.Clone();
            using (NumericsTestData.Force(level)) Kernels.SoftmaxRows(x, rows, cols, valid);
            for (int r = 0; r < rows; r++)
            {
                double max = double.NegativeInfinity, sum = 0;
                for (int i = 0; i < valid; i++) max = Math.Max(max, original[r * cols + i]);
                for (int i = 0; i < valid; i++) sum += Math.Exp(original[r * cols + i] - max);
                for (int i = 0; i < valid; i++)
                {
                    double expected = Math.Exp(original[r * cols + i] - max) / sum;
                    Assert.True(Math.Abs(expected - x[r * cols + i]) <= 1e-6 * expected + 1e-7, $"{level} {rows}x{cols}/{valid} [{r},{i}]: {x[r * cols + i]} vs {expected}");
                }
                for (int i = valid; i < cols; i++) Assert.Equal(0f, x[r * cols + i]);
            }
            if (valid > 1) Assert.Equal(0f, x[0]);
        }
        var none = NumericsTestData.Random(9, 6);
        Kernels.SoftmaxRows(none, 1, 9, 0);
        Assert.All(none, v => Assert.Equal(0f, v));
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.SoftmaxRows(new float[4], 1, 4, 5));
    }

    [Fact]
    public void L2NormalizeRowsGivesUnitRowsAndLeavesZeroRowsAlone()
    {
        var x = NumericsTestData.Random(3 * 50, 7);
        Array.Clear(x, 50, 50);
        var original = (float[])x.Clone();
        Kernels.L2NormalizeRows(x, 3, 50);
        foreach (int r in new[] { 0, 2 })
        {
            double norm = Math.Sqrt(original.Skip(r * 50).Take(50).Sum(v => (double)v * v));
            for (int i = 0; i < 50; i++) Assert.Equal(original[r * 50 + i] / norm, x[r * 50 + i], 1e-6);
        }
        Assert.All(x.Skip(50).Take(50), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void SimpleActivationsAndElementwiseOps()
    {
        var x = NumericsTestData.Random(45, 8, 5f);
        var y = new float[45];
        Kernels.Relu(x, y);
        for (int i = 0; i < x.Length; i++) Assert.Equal(Math.Max(x[i], 0f), y[i]);
        Kernels.Tanh(x, y);
        for (int i = 0; i < x.Length; i++) Assert.Equal(Math.Tanh(x[i]), y[i], 1e-6);
        Kernels.Add(x, x, y);
        for (int i = 0; i < x.Length; i++) Assert.Equal(2 * x[i], y[i]);
        Kernels.Scale(x, 0.5f, y);
        for (int i = 0; i < x.Length; i++) Assert.Equal(0.5f * x[i], y[i]);
        Assert.Throws<ArgumentException>(() => Kernels.Gelu(x, new float[44]));
    }
}
