// The int8 kernel sums products in int16 before widening: extreme codes must not saturate, and SIMD must equal scalar.
using Semblance.Search;

namespace Semblance.Tests.Search;

[Collection("search-kernels")]
public unsafe class FlatKernelsTests
{
    [Theory]
    [InlineData(16, 255, 0)]
    [InlineData(-16, 255, 0)]
    [InlineData(16, 255, 1)]
    [InlineData(0, 0, 2)]
    public void I8x8MatchesScalarWithoutSaturation(int queryFill, int codeFill, int seed)
    {
        const int dp = 52, g = FlatKernels.QueryGroup;
        Assert.True(FlatKernels.QueryCodeMax >= Math.Abs(queryFill));
        var rng = new Random(seed);
        var q = new sbyte[g * dp];
        var a = new byte[16 * dp];
        var b = new byte[16 * dp];
        for (int i = 0; i < q.Length; i++) q[i] = (sbyte)(seed == 2 ? rng.Next(-FlatKernels.QueryCodeMax, FlatKernels.QueryCodeMax + 1) : queryFill);
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = (byte)(seed == 2 ? rng.Next(256) : codeFill);
            b[i] = (byte)(seed == 2 ? rng.Next(256) : codeFill - (i % 3));
        }
        var simd = Run(q, a, b, dp, scalar: false);
        var portable = Run(q, a, b, dp, scalar: true);
        Assert.Equal(portable, simd);
        if (seed != 2) Assert.Equal(queryFill * codeFill * dp, portable[0]);
    }

    private static int[] Run(sbyte[] q, byte[] a, byte[] b, int dp, bool scalar)
    {
        var o = new int[FlatKernels.QueryGroup * 32];
        var pa = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)a.Length, 64);
        var pb = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)b.Length, 64);
        FlatKernels.ForceScalar = scalar;
        try
        {
            a.CopyTo(new Span<byte>(pa, a.Length));
            b.CopyTo(new Span<byte>(pb, b.Length));
            fixed (sbyte* pq = q)
            fixed (int* po = o)
                FlatKernels.I8x8(pq, dp, pa, pb, po);
        }
        finally
        {
            FlatKernels.ForceScalar = false;
            System.Runtime.InteropServices.NativeMemory.AlignedFree(pa);
            System.Runtime.InteropServices.NativeMemory.AlignedFree(pb);
        }
        return o;
    }
}
