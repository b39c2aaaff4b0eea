// SIMD scan kernels for exact search over vectors stored in blocks of 16, dimension-major inside a block
// (float32/float16: [d][16]; int8: [d/4][16][4]), so 16 database vectors fill one Vector512 and no horizontal
// sums are needed. The 8-query kernels are GEMM-like micro-kernels: 8 queries x 32 vectors of accumulators.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Semblance.Search;

internal static unsafe class FlatKernels
{
    public const int Lanes = 16;
    public const int QueryGroup = 8;

    /// <summary>Tests set this to exercise the portable path on AVX-512 hardware.</summary>
    internal static bool ForceScalar;

    public static bool UseF32Simd => !ForceScalar && Vector512.IsHardwareAccelerated;
    public static bool UseI8Simd => !ForceScalar && Avx512BW.IsSupported;

    /// <summary>o[r*32 + l] = q_r · a_l, o[r*32 + 16 + l] = q_r · b_l for 8 queries (rows of q, stride dp).</summary>
    public static void F32x8(float* q, int dp, float* a, float* b, float* o)
    {
        if (!UseF32Simd)
        {
            for (int r = 0; r < QueryGroup; r++)
            {
                ScalarF32(q + r * dp, dp, a, o + r * 32);
                ScalarF32(q + r * dp, dp, b, o + r * 32 + 16);
            }
            return;
        }
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default, b6 = default, b7 = default;
        float* q1 = q + dp, q2 = q1 + dp, q3 = q2 + dp, q4 = q3 + dp, q5 = q4 + dp, q6 = q5 + dp, q7 = q6 + dp;
        for (int j = 0; j < dp; j++)
        {
            var x = Vector512.LoadAligned(a + j * Lanes);
            var y = Vector512.LoadAligned(b + j * Lanes);
            var s = Vector512.Create(q[j]);
            a0 = Vector512.FusedMultiplyAdd(x, s, a0); b0 = Vector512.FusedMultiplyAdd(y, s, b0);
            s = Vector512.Create(q1[j]);
            a1 = Vector512.FusedMultiplyAdd(x, s, a1); b1 = Vector512.FusedMultiplyAdd(y, s, b1);
            s = Vector512.Create(q2[j]);
            a2 = Vector512.FusedMultiplyAdd(x, s, a2); b2 = Vector512.FusedMultiplyAdd(y, s, b2);
            s = Vector512.Create(q3[j]);
            a3 = Vector512.FusedMultiplyAdd(x, s, a3); b3 = Vector512.FusedMultiplyAdd(y, s, b3);
            s = Vector512.Create(q4[j]);
            a4 = Vector512.FusedMultiplyAdd(x, s, a4); b4 = Vector512.FusedMultiplyAdd(y, s, b4);
            s = Vector512.Create(q5[j]);
            a5 = Vector512.FusedMultiplyAdd(x, s, a5); b5 = Vector512.FusedMultiplyAdd(y, s, b5);
            s = Vector512.Create(q6[j]);
            a6 = Vector512.FusedMultiplyAdd(x, s, a6); b6 = Vector512.FusedMultiplyAdd(y, s, b6);
            s = Vector512.Create(q7[j]);
            a7 = Vector512.FusedMultiplyAdd(x, s, a7); b7 = Vector512.FusedMultiplyAdd(y, s, b7);
        }
        a0.Store(o); b0.Store(o + 16); a1.Store(o + 32); b1.Store(o + 48);
        a2.Store(o + 64); b2.Store(o + 80); a3.Store(o + 96); b3.Store(o + 112);
        a4.Store(o + 128); b4.Store(o + 144); a5.Store(o + 160); b5.Store(o + 176);
        a6.Store(o + 192); b6.Store(o + 208); a7.Store(o + 224); b7.Store(o + 240);
    }

    /// <summary>o[l] = q · block_l for one query and one block.</summary>
    public static void F32x1(float* q, int dp, float* a, float* o)
    {
        if (!UseF32Simd)
        {
            ScalarF32(q, dp, a, o);
            return;
        }
        Vector512<float> s0 = default, s1 = default;
        int j = 0;
        for (; j + 1 < dp; j += 2)
        {
            s0 = Vector512.FusedMultiplyAdd(Vector512.LoadAligned(a + j * Lanes), Vector512.Create(q[j]), s0);
            s1 = Vector512.FusedMultiplyAdd(Vector512.LoadAligned(a + (j + 1) * Lanes), Vector512.Create(q[j + 1]), s1);
        }
        if (j < dp) s0 = Vector512.FusedMultiplyAdd(Vector512.LoadAligned(a + j * Lanes), Vector512.Create(q[j]), s0);
        (s0 + s1).Store(o);
    }

    private static void ScalarF32(float* q, int dp, float* a, float* o)
    {
        for (int l = 0; l < Lanes; l++)
        {
            float s = 0;
            for (int j = 0; j < dp; j++) s = MathF.FusedMultiplyAdd(q[j], a[j * Lanes + l], s);
            o[l] = s;
        }
    }

    /// <summary>
    /// Integer dot products of 8 signed 7-bit queries (rows of q, stride dp bytes) with two blocks of unsigned 8-bit
    /// codes: o[r*32 + l]. u8 x s7 pair sums fit vpmaddubsw's int16 without saturation (2·255·64 &lt; 32768).
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
        sbyte* q1 = q + dp, q2 = q1 + dp, q3 = q2 + dp, q4 = q3 + dp, q5 = q4 + dp, q6 = q5 + dp, q7 = q6 + dp;
        int groups = dp >> 2;
        for (int g = 0; g < groups; g++)
        {
            var x = Vector512.LoadAligned(a + g * 64);
            var y = Vector512.LoadAligned(b + g * 64);
            int off = g * 4;
            var s = Vector512.Create(*(int*)(q + off)).AsSByte();
            a0 += Dot4(x, s, ones); b0 += Dot4(y, s, ones);
            s = Vector512.Create(*(int*)(q1 + off)).AsSByte();
            a1 += Dot4(x, s, ones); b1 += Dot4(y, s, ones);
            s = Vector512.Create(*(int*)(q2 + off)).AsSByte();
            a2 += Dot4(x, s, ones); b2 += Dot4(y, s, ones);
            s = Vector512.Create(*(int*)(q3 + off)).AsSByte();
            a3 += Dot4(x, s, ones); b3 += Dot4(y, s, ones);
            s = Vector512.Create(*(int*)(q4 + off)).AsSByte();
            a4 += Dot4(x, s, ones); b4 += Dot4(y, s, ones);
            s = Vector512.Create(*(int*)(q5 + off)).AsSByte();
            a5 += Dot4(x, s, ones); b5 += Dot4(y, s, ones);
            s = Vector512.Create(*(int*)(q6 + off)).AsSByte();
            a6 += Dot4(x, s, ones); b6 += Dot4(y, s, ones);
            s = Vector512.Create(*(int*)(q7 + off)).AsSByte();
            a7 += Dot4(x, s, ones); b7 += Dot4(y, s, ones);
        }
        a0.Store(o); b0.Store(o + 16); a1.Store(o + 32); b1.Store(o + 48);
        a2.Store(o + 64); b2.Store(o + 80); a3.Store(o + 96); b3.Store(o + 112);
        a4.Store(o + 128); b4.Store(o + 144); a5.Store(o + 160); b5.Store(o + 176);
        a6.Store(o + 192); b6.Store(o + 208); a7.Store(o + 224); b7.Store(o + 240);
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
