// Distance kernels, tier by tier: pairwise kernels against double references on odd lengths (every tail path), block
// kernels (one-query and eight-query forms) bitwise equal across tiers and equal to the reference to rounding.
using System.Runtime.InteropServices;
using Semblance.Numerics;

namespace Semblance.Tests.Numerics;

public unsafe class DistanceTests
{
    public static TheoryData<string> Levels => NumericsTestData.SupportedLevels();

    private static readonly int[] Lengths = [1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 100, 384, 385];

    [Theory]
    [MemberData(nameof(Levels))]
    public void PairwiseKernelsMatchDoubleReference(string level)
    {
        using var _ = NumericsTestData.Force(level);
        var kernels = DistanceKernels.ForCurrentThread;
        Assert.Equal(level, kernels.Tier);
        foreach (int n in Lengths)
        {
            var a = NumericsTestData.Random(n, n, 1f, 0.1f);
            var b = NumericsTestData.Random(n, n + 1000, 2f);
            double dot = 0, l2 = 0, aa = 0, bb = 0, mag = 0;
            for (int i = 0; i < n; i++)
            {
                dot += (double)a[i] * b[i];
                mag += Math.Abs((double)a[i] * b[i]);
                l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
                aa += (double)a[i] * a[i];
                bb += (double)b[i] * b[i];
            }
            double cos = dot / Math.Sqrt(aa * bb);
            float kd, kl, kc;
            fixed (float* pa = a, pb = b)
            {
                kd = kernels.Dot(pa, pb, n);
                kl = kernels.SquaredL2(pa, pb, n);
                kc = kernels.Cosine(pa, pb, n);
            }
            Assert.True(Math.Abs(kd - dot) <= 1e-5 * mag + 1e-7, $"dot n={n}: {kd} vs {dot}");
            Assert.True(Math.Abs(kl - l2) <= 1e-5 * l2 + 1e-7, $"l2 n={n}: {kl} vs {l2}");
            Assert.True(Math.Abs(kc - cos) <= 1e-5, $"cosine n={n}: {kc} vs {cos}");
            // The span forms run the same kernels on the thread's tier.
            Assert.Equal(kd, Distance.Dot(a, b));
            Assert.Equal(kl, Distance.SquaredL2(a, b));
            Assert.Equal(kc, Distance.Cosine(a, b));
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void FourVectorKernelsAreBitwiseThePairwiseOnes(string level)
    {
        using var _ = NumericsTestData.Force(level);
        var kernels = DistanceKernels.ForCurrentThread;
        foreach (int n in Lengths.Append(64).Append(96).Append(448))
        {
            var q = NumericsTestData.Random(n, 7 * n, 1f, 0.1f);
            var v = NumericsTestData.Random(4 * n, 7 * n + 1, 2f);
            var dots = new float[4];
            var l2s = new float[4];
            fixed (float* pq = q, pv = v, pd = dots, pl = l2s)
            {
                kernels.Dot4(pq, pv, pv + n, pv + 2 * n, pv + 3 * n, n, pd);
                kernels.SquaredL2x4(pq, pv, pv + n, pv + 2 * n, pv + 3 * n, n, pl);
                for (int i = 0; i < 4; i++)
                {
                    Assert.True(kernels.Dot(pq, pv + i * n, n) == dots[i], $"dot n={n} vector {i}: {dots[i]} vs {kernels.Dot(pq, pv + i * n, n)}");
                    Assert.True(kernels.SquaredL2(pq, pv + i * n, n) == l2s[i], $"l2 n={n} vector {i}: {l2s[i]} vs {kernels.SquaredL2(pq, pv + i * n, n)}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void CosineOfZeroVectorIsZeroAndOfItselfIsOne(string level)
    {
        using var _ = NumericsTestData.Force(level);
        var z = new float[40];
        var v = NumericsTestData.Random(40, 9);
        Assert.Equal(0f, Distance.Cosine(z, v));
        Assert.Equal(1f, Distance.Cosine(v, v), 6);
        Assert.Equal(0f, Distance.SquaredL2(v, v));
    }

    [Fact]
    public void MismatchedLengthsAreRejected() =>
        Assert.Throws<ArgumentException>(() => Distance.Dot(new float[3], new float[4]));

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(37)]
    [InlineData(384)]
    public void BlockKernelsAreBitwiseEqualAcrossTiers(int d)
    {
        const int L = DistanceKernels.BlockLanes, G = DistanceKernels.QueryGroup;
        int dp = d + 3; // query rows are padded: the stride is not the dimension
        var q = NumericsTestData.Random(G * dp, d);
        var a = Aligned(NumericsTestData.Random(L * d, d + 1));
        var b = Aligned(NumericsTestData.Random(L * d, d + 2));
        try
        {
            float[]? first = null, firstOne = null;
            foreach (var level in NumericsTestData.SupportedLevels())
            {
                using var _ = NumericsTestData.Force(level);
                var kernels = DistanceKernels.ForCurrentThread;
                var eight = new float[G * 32];
                var one = new float[G * 32];
                fixed (float* pq = q, pe = eight, po = one)
                {
                    kernels.DotBlocks8(pq, dp, d, a, b, pe);
                    for (int r = 0; r < G; r++) kernels.DotBlocks1(pq + r * dp, d, a, b, po + r * 32);
                }
                if (first is null) (first, firstOne) = (eight, one);
                Assert.Equal(first, eight);
                Assert.Equal(firstOne, one);
                // Each output is q_r · (stored vector l) to float rounding.
                for (int r = 0; r < G; r++)
                    for (int l = 0; l < L; l++)
                    {
                        double ea = 0, eb = 0, m = 0;
                        for (int j = 0; j < d; j++)
                        {
                            ea += (double)q[r * dp + j] * a[j * L + l];
                            eb += (double)q[r * dp + j] * b[j * L + l];
                            m += Math.Abs((double)q[r * dp + j] * a[j * L + l]) + Math.Abs((double)q[r * dp + j] * b[j * L + l]);
                        }
                        foreach (var o in new[] { eight, one })
                        {
                            Assert.True(Math.Abs(o[r * 32 + l] - ea) <= 1e-5 * m + 1e-7, $"{level} r={r} l={l}");
                            Assert.True(Math.Abs(o[r * 32 + 16 + l] - eb) <= 1e-5 * m + 1e-7, $"{level} r={r} l={l}");
                        }
                    }
            }
            Assert.NotNull(first);
        }
        finally
        {
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(b);
        }
    }

    private static float* Aligned(float[] data)
    {
        var p = (float*)NativeMemory.AlignedAlloc((nuint)data.Length * 4, 64);
        data.CopyTo(new Span<float>(p, data.Length));
        return p;
    }
}
