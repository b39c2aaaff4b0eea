// SIMD scan kernels for exact search over int8 codes stored in blocks of 16 ([d/4][16][4]), so 16 database vectors
// fill one Vector512 and no horizontal sums are needed; the 8-query kernel is a GEMM-like micro-kernel (8 queries x
// 32 vectors of accumulators). The float32/float16 scans use Numerics' DistanceKernels block kernels (same layout,
// [d][16]). Emit moves the lanes that beat a heap's threshold into it.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Semblance.Search;

internal static unsafe class FlatKernels
{
    public const int Lanes = Numerics.DistanceKernels.BlockLanes;
    public const int QueryGroup = Numerics.DistanceKernels.QueryGroup;

    /// <summary>Tests set this to exercise the portable int8 path on AVX-512 hardware.</summary>
    internal static bool ForceScalar;

    public static bool UseI8Simd => !ForceScalar && Avx512BW.IsSupported;

    /// <summary>Largest query code magnitude: four u8 x s8 pair sums must fit int16 (4 · 2 · 255 · 16 = 32640).</summary>
    public const int QueryCodeMax = 16;

    /// <summary>
    /// Integer dot products of 8 signed queries (codes in ±<see cref="QueryCodeMax"/>, rows of q, stride dp bytes)
    /// with two blocks of unsigned 8-bit codes: o[r*32 + l]. vpmaddubsw products of four 4-dimension groups are summed
    /// in int16 before one vpmaddwd widens them, so the multiplier ports do 5 operations per 256 products, not 8.
    /// </summary>
    public static void I8x8(sbyte* q, int dp, byte* a, byte* b, int* o)
    {
        if (!UseI8Simd)
        {
            for (int r = 0; r < QueryGroup; r++)
            {
                ScalarI8(q + r * dp, dp, a, o + r * 32);
                ScalarI8(q + r * dp, dp, b, o + r * 32 + 16);
            }
            return;
        }
        var ones = Vector512.Create((short)1);
        Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        Vector512<int> b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default, b6 = default, b7 = default;
        int groups = dp >> 2;
        int g = 0;
        for (; g + 4 <= groups; g += 4)
        {
            byte* pa = a + g * 64, pb = b + g * 64;
            var x0 = Vector512.LoadAligned(pa); var x1 = Vector512.LoadAligned(pa + 64);
            var x2 = Vector512.LoadAligned(pa + 128); var x3 = Vector512.LoadAligned(pa + 192);
            var y0 = Vector512.LoadAligned(pb); var y1 = Vector512.LoadAligned(pb + 64);
            var y2 = Vector512.LoadAligned(pb + 128); var y3 = Vector512.LoadAligned(pb + 192);
            sbyte* qg = q + g * 4;
            Step4(x0, x1, x2, x3, y0, y1, y2, y3, qg, ones, ref a0, ref b0); qg += dp;
            Step4(x0, x1, x2, x3, y0, y1, y2, y3, qg, ones, ref a1, ref b1); qg += dp;
            Step4(x0, x1, x2, x3, y0, y1, y2, y3, qg, ones, ref a2, ref b2); qg += dp;
            Step4(x0, x1, x2, x3, y0, y1, y2, y3, qg, ones, ref a3, ref b3); qg += dp;
            Step4(x0, x1, x2, x3, y0, y1, y2, y3, qg, ones, ref a4, ref b4); qg += dp;
            Step4(x0, x1, x2, x3, y0, y1, y2, y3, qg, ones, ref a5, ref b5); qg += dp;
            Step4(x0, x1, x2, x3, y0, y1, y2, y3, qg, ones, ref a6, ref b6); qg += dp;
            Step4(x0, x1, x2, x3, y0, y1, y2, y3, qg, ones, ref a7, ref b7);
        }
        for (; g < groups; g++)
        {
            var x = Vector512.LoadAligned(a + g * 64);
            var y = Vector512.LoadAligned(b + g * 64);
            sbyte* qg = q + g * 4;
            Step1(x, y, qg, ones, ref a0, ref b0); qg += dp;
            Step1(x, y, qg, ones, ref a1, ref b1); qg += dp;
            Step1(x, y, qg, ones, ref a2, ref b2); qg += dp;
            Step1(x, y, qg, ones, ref a3, ref b3); qg += dp;
            Step1(x, y, qg, ones, ref a4, ref b4); qg += dp;
            Step1(x, y, qg, ones, ref a5, ref b5); qg += dp;
            Step1(x, y, qg, ones, ref a6, ref b6); qg += dp;
            Step1(x, y, qg, ones, ref a7, ref b7);
        }
        a0.Store(o); b0.Store(o + 16); a1.Store(o + 32); b1.Store(o + 48);
        a2.Store(o + 64); b2.Store(o + 80); a3.Store(o + 96); b3.Store(o + 112);
        a4.Store(o + 128); b4.Store(o + 144); a5.Store(o + 160); b5.Store(o + 176);
        a6.Store(o + 192); b6.Store(o + 208); a7.Store(o + 224); b7.Store(o + 240);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step4(Vector512<byte> x0, Vector512<byte> x1, Vector512<byte> x2, Vector512<byte> x3,
        Vector512<byte> y0, Vector512<byte> y1, Vector512<byte> y2, Vector512<byte> y3, sbyte* qg, Vector512<short> ones,
        ref Vector512<int> accA, ref Vector512<int> accB)
    {
        var s0 = Vector512.Create(*(int*)qg).AsSByte();
        var s1 = Vector512.Create(*(int*)(qg + 4)).AsSByte();
        var s2 = Vector512.Create(*(int*)(qg + 8)).AsSByte();
        var s3 = Vector512.Create(*(int*)(qg + 12)).AsSByte();
        var ta = Avx512BW.MultiplyAddAdjacent(x0, s0) + Avx512BW.MultiplyAddAdjacent(x1, s1)
            + (Avx512BW.MultiplyAddAdjacent(x2, s2) + Avx512BW.MultiplyAddAdjacent(x3, s3));
        var tb = Avx512BW.MultiplyAddAdjacent(y0, s0) + Avx512BW.MultiplyAddAdjacent(y1, s1)
            + (Avx512BW.MultiplyAddAdjacent(y2, s2) + Avx512BW.MultiplyAddAdjacent(y3, s3));
        accA += Avx512BW.MultiplyAddAdjacent(ta, ones);
        accB += Avx512BW.MultiplyAddAdjacent(tb, ones);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step1(Vector512<byte> x, Vector512<byte> y, sbyte* qg, Vector512<short> ones,
        ref Vector512<int> accA, ref Vector512<int> accB)
    {
        var s = Vector512.Create(*(int*)qg).AsSByte();
        accA += Dot4(x, s, ones);
        accB += Dot4(y, s, ones);
    }

    public static void I8x1(sbyte* q, int dp, byte* a, int* o)
    {
        if (!UseI8Simd)
        {
            ScalarI8(q, dp, a, o);
            return;
        }
        var ones = Vector512.Create((short)1);
        Vector512<int> s0 = default;
        int groups = dp >> 2;
        for (int g = 0; g < groups; g++)
            s0 += Dot4(Vector512.LoadAligned(a + g * 64), Vector512.Create(*(int*)(q + g * 4)).AsSByte(), ones);
        s0.Store(o);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Dot4(Vector512<byte> x, Vector512<sbyte> s, Vector512<short> ones) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(x, s), ones);

    private static void ScalarI8(sbyte* q, int dp, byte* a, int* o)
    {
        for (int l = 0; l < Lanes; l++)
        {
            int s = 0;
            for (int j = 0; j < dp; j++) s += q[j] * a[(j >> 2) * 64 + l * 4 + (j & 3)];
            o[l] = s;
        }
    }

    /// <summary>Pushes lanes of <paramref name="scores"/> that beat the heap threshold (valid, not deleted) into it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Emit(float* scores, TopK heap, int baseSlot, int validLanes, bool[]? deleted)
    {
        uint mask;
        if (Vector512.IsHardwareAccelerated)
            mask = (uint)Vector512.GreaterThan(Vector512.Load(scores), Vector512.Create(heap.Threshold)).ExtractMostSignificantBits();
        else
        {
            mask = 0;
            float t = heap.Threshold;
            for (int l = 0; l < Lanes; l++) if (scores[l] > t) mask |= 1u << l;
        }
        if (validLanes < Lanes) mask &= (1u << validLanes) - 1;
        while (mask != 0)
        {
            int l = System.Numerics.BitOperations.TrailingZeroCount(mask);
            mask &= mask - 1;
            int slot = baseSlot + l;
            if (deleted is not null && deleted[slot]) continue;
            heap.Push(scores[l], slot);
        }
    }
}
