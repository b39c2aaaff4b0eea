// The backward products on the packed kernel against a float64 reference, accumulate vs overwrite, any thread count.
using Semblance.Numerics;
using Semblance.Training;

namespace Semblance.Tests.Training;

public class TrainingGemmTests
{
    private static float[] Random(int length, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    [Theory]
    [InlineData(1, 3, 5)]
    [InlineData(37, 33, 70)]
    [InlineData(700, 64, 96)]
    public void AtBIsTheWeightGradient(int m, int n, int k)
    {
        var a = Random(m * n, 1);
        var b = Random(m * k, 2);
        var start = Random(n * k, 3);
        var expected = new double[n * k];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++)
            {
                double sum = start[i * k + j];
                for (int r = 0; r < m; r++) sum += (double)a[r * n + i] * b[r * k + j];
                expected[i * k + j] = sum;
            }
        using var two = new ComputeContext(2);
        var one = (float[])start.Clone();
        TrainingGemm.AtB(a, m, n, b, k, one, accumulate: true, ComputeContext.Single);
        var parallel = (float[])start.Clone();
        TrainingGemm.AtB(a, m, n, b, k, parallel, accumulate: true, two);
        Assert.Equal(one, parallel);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(one[i] - expected[i]) < 1e-4 * Math.Sqrt(m) + 1e-5, $"element {i}: {one[i]} vs {expected[i]}");

        var overwritten = Enumerable.Repeat(float.NaN, n * k).ToArray();
        TrainingGemm.AtB(a, m, n, b, k, overwritten, accumulate: false, two);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(overwritten[i] - (expected[i] - start[i])) < 1e-4 * Math.Sqrt(m) + 1e-5);
    }

    [Theory]
    [InlineData(5, 3, 4)]
    [InlineData(300, 48, 130)]
    public void AddABMatchesTheProduct(int m, int k, int n)
    {
        var a = Random(m * k, 4);
        var b = Random(k * n, 5);
        var c = Random(m * n, 6);
        var expected = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = c[i * n + j];
                for (int p = 0; p < k; p++) sum += (double)a[i * k + p] * b[p * n + j];
                expected[i * n + j] = sum;
            }
        using var two = new ComputeContext(2);
        TrainingGemm.AddAB(a, m, k, b, n, c, two);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(c[i] - expected[i]) < 1e-4, $"element {i}: {c[i]} vs {expected[i]}");
    }

    [Fact]
    public void PackFromInOutEqualsPackingTheTranspose()
    {
        const int inFeatures = 45, outFeatures = 70;
        var wInOut = Random(inFeatures * outFeatures, 7);
        var wOutIn = new float[outFeatures * inFeatures];
        TrainingGemm.Transpose(wInOut, inFeatures, outFeatures, wOutIn);
        var unpacked = new float[outFeatures * inFeatures];
        var bigger = PackedWeight.Pack(Random(100 * 64, 8), 100, 64);
        PackedWeight.PackFromInOut(wInOut, outFeatures, inFeatures, reuse: bigger).Unpack(unpacked);
        Assert.Equal(wOutIn, unpacked);
        PackedWeight.Pack(wOutIn, outFeatures, inFeatures).Unpack(unpacked);
        Assert.Equal(wOutIn, unpacked);
    }
}
