// int8 GEMM micro-kernels: C[rows, 32] = A[rows, 4·quads] · B[4·quads, 32] in exact int32, one tile per call, per tier.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Semblance.Numerics;

/// <summary>The int8 kernels, widest first; which one runs follows <see cref="Simd.Current"/> and the CPU's VNNI support.</summary>
internal enum Int8Kernel
{
    /// <summary>Plain integer loops over 16-bit activation codes: the reference every other tier must equal.</summary>
    Scalar = 0,
    /// <summary>AVX2: sign-extended weights, vpmaddwd (16-bit × 16-bit → 32-bit pair sums).</summary>
    Vector256 = 1,
    /// <summary>AVX-512BW: the same on 512-bit registers.</summary>
    Vector512 = 2,
    /// <summary>AVX-VNNI vpdpbusd: unsigned activation bytes × signed weight bytes, 4 products per lane.</summary>
    Vnni256 = 3,
}

/// <summary>
/// Every tier computes the same integer Σₖ u[i,k]·q[j,k] exactly (u in [0, 255] the row's asymmetric codes, q in
/// [−127, 127]): no tier saturates. vpmaddubsw is not used: its u8 × s8 pair sums saturate to int16 (2 · 255 · 127 =
/// 64,770 > 32,767), so it would differ from the scalar reference; the non-VNNI tiers widen to 16 bits and use
/// vpmaddwd (pair sums ≤ 64,770 into int32), VNNI's vpdpbusd adds its four products into int32 without saturating,
/// and int32 cannot overflow for K below 66,000. So all tiers, tile shapes and row groupings give the same integers,
/// and the float epilogue the same bits.
/// </summary>
/// <remarks>
/// Activation operand: the codes as 16-bit integers for Scalar/Vector256/Vector512 (4 codes = one 64-bit broadcast
/// per row and quad), as bytes for Vnni256 (one 32-bit broadcast); the caller subtracts the row's zero point times
/// Σₖ q[j,k] (<see cref="QuantizedWeight.ColumnSums"/>). Vnni256 holds 4 rows × 4 ymm
/// accumulators: the JIT emits the VEX vpdpbusd, whose destination must be one of ymm0–15 (6 rows spilled); Vector512 6 rows × 4 zmm, each holding 8 columns
/// × 2 pair sums, folded to 32 columns at the end.
/// </remarks>
internal static unsafe class Int8MicroKernel
{
    public const int Width = 32;

    /// <summary>Bytes per quad (4 k) of one row of the activation operand.</summary>
    public static int ActivationBytesPerQuad(Int8Kernel kernel) => kernel == Int8Kernel.Vnni256 ? 4 : 8;

    public static int MaxRows(Int8Kernel kernel) => kernel switch { Int8Kernel.Vector256 => 2, Int8Kernel.Vnni256 => 4, _ => 6 };

    /// <summary>The kernel for <paramref name="level"/> on this CPU.</summary>
    public static Int8Kernel For(SimdLevel level) => level switch
    {
        SimdLevel.Vector512 when AvxVnni.IsSupported => Int8Kernel.Vnni256,
        SimdLevel.Vector512 when Avx512BW.IsSupported => Int8Kernel.Vector512,
        SimdLevel.Vector512 or SimdLevel.Vector256 when AvxVnni.IsSupported => Int8Kernel.Vnni256,
        SimdLevel.Vector512 or SimdLevel.Vector256 when Avx2.IsSupported => Int8Kernel.Vector256,
        _ => Int8Kernel.Scalar,
    };

    public static bool IsSupported(Int8Kernel kernel) => kernel switch
    {
        Int8Kernel.Vnni256 => AvxVnni.IsSupported,
        Int8Kernel.Vector512 => Avx512BW.IsSupported,
        Int8Kernel.Vector256 => Avx2.IsSupported,
        _ => true,
    };

    /// <summary>c[rows, 0..32) = Σ over quads of a · b; a rows are <paramref name="lda"/> bytes apart, b is one panel (128 bytes per quad).</summary>
    public static void Tile(Int8Kernel kernel, int rows, byte* a, nint lda, sbyte* b, int quads, int* c)
    {
        switch (kernel)
        {
            case Int8Kernel.Vnni256: Vnni(rows, a, lda, b, quads, c); break;
            case Int8Kernel.Vector512: Wide512(rows, a, lda, b, quads, c); break;
            case Int8Kernel.Vector256: Wide256(rows, a, lda, b, quads, c); break;
            default: TileScalar(rows, a, lda, b, quads, c); break;
        }
    }

    private static void TileScalar(int rows, byte* a, nint lda, sbyte* b, int quads, int* c)
    {
        for (int i = 0; i < rows; i++)
        {
            short* ai = (short*)(a + i * lda);
            for (int j = 0; j < Width; j++)
            {
                int sum = 0;
                for (int q = 0; q < quads; q++)
                    for (int t = 0; t < 4; t++) sum += ai[4 * q + t] * b[(q * Width + j) * 4 + t];
                c[i * Width + j] = sum;
            }
        }
    }

    private static void Vnni(int rows, byte* a, nint lda, sbyte* b, int quads, int* c)
    {
        switch (rows)
        {
            case 1: Vnni<Rows1>(a, lda, b, quads, c); break;
            case 2: Vnni<Rows2>(a, lda, b, quads, c); break;
            case 3: Vnni<Rows3>(a, lda, b, quads, c); break;
            case 4: Vnni<Rows4>(a, lda, b, quads, c); break;
            case 5: Vnni<Rows5>(a, lda, b, quads, c); break;
            case 6: Vnni<Rows6>(a, lda, b, quads, c); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows), rows, "a Vnni tile has 1 to 6 rows");
        }
    }

    private static void Wide512(int rows, byte* a, nint lda, sbyte* b, int quads, int* c)
    {
        switch (rows)
        {
            case 1: Wide512<Rows1>(a, lda, b, quads, c); break;
            case 2: Wide512<Rows2>(a, lda, b, quads, c); break;
            case 3: Wide512<Rows3>(a, lda, b, quads, c); break;
            case 4: Wide512<Rows4>(a, lda, b, quads, c); break;
            case 5: Wide512<Rows5>(a, lda, b, quads, c); break;
            case 6: Wide512<Rows6>(a, lda, b, quads, c); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows), rows, "a Wide512 tile has 1 to 6 rows");
        }
    }

    private static void Wide256(int rows, byte* a, nint lda, sbyte* b, int quads, int* c)
    {
        switch (rows)
        {
            case 1: Wide256<Rows1>(a, lda, b, quads, c); break;
            case 2: Wide256<Rows2>(a, lda, b, quads, c); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows), rows, "a Wide256 tile has 1 to 2 rows");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Vnni<R>(byte* a, nint lda, sbyte* b, int quads, int* c) where R : struct, IRowCount
    {
        Vector256<int> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector256<int> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector256<int> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector256<int> c30 = default, c31 = default, c32 = default, c33 = default;
        Vector256<int> c40 = default, c41 = default, c42 = default, c43 = default;
        Vector256<int> c50 = default, c51 = default, c52 = default, c53 = default;
        for (int q = 0; q < quads; q++)
        {
            var b0 = Vector256.Load(b); var b1 = Vector256.Load(b + 32); var b2 = Vector256.Load(b + 64); var b3 = Vector256.Load(b + 96);
            if (R.Value > 0) { var ai = Vector256.Create(*(int*)(a + 0 * lda + 4 * q)).AsByte(); c00 = AvxVnni.MultiplyWideningAndAdd(c00, ai, b0); c01 = AvxVnni.MultiplyWideningAndAdd(c01, ai, b1); c02 = AvxVnni.MultiplyWideningAndAdd(c02, ai, b2); c03 = AvxVnni.MultiplyWideningAndAdd(c03, ai, b3); }
            if (R.Value > 1) { var ai = Vector256.Create(*(int*)(a + 1 * lda + 4 * q)).AsByte(); c10 = AvxVnni.MultiplyWideningAndAdd(c10, ai, b0); c11 = AvxVnni.MultiplyWideningAndAdd(c11, ai, b1); c12 = AvxVnni.MultiplyWideningAndAdd(c12, ai, b2); c13 = AvxVnni.MultiplyWideningAndAdd(c13, ai, b3); }
            if (R.Value > 2) { var ai = Vector256.Create(*(int*)(a + 2 * lda + 4 * q)).AsByte(); c20 = AvxVnni.MultiplyWideningAndAdd(c20, ai, b0); c21 = AvxVnni.MultiplyWideningAndAdd(c21, ai, b1); c22 = AvxVnni.MultiplyWideningAndAdd(c22, ai, b2); c23 = AvxVnni.MultiplyWideningAndAdd(c23, ai, b3); }
            if (R.Value > 3) { var ai = Vector256.Create(*(int*)(a + 3 * lda + 4 * q)).AsByte(); c30 = AvxVnni.MultiplyWideningAndAdd(c30, ai, b0); c31 = AvxVnni.MultiplyWideningAndAdd(c31, ai, b1); c32 = AvxVnni.MultiplyWideningAndAdd(c32, ai, b2); c33 = AvxVnni.MultiplyWideningAndAdd(c33, ai, b3); }
            if (R.Value > 4) { var ai = Vector256.Create(*(int*)(a + 4 * lda + 4 * q)).AsByte(); c40 = AvxVnni.MultiplyWideningAndAdd(c40, ai, b0); c41 = AvxVnni.MultiplyWideningAndAdd(c41, ai, b1); c42 = AvxVnni.MultiplyWideningAndAdd(c42, ai, b2); c43 = AvxVnni.MultiplyWideningAndAdd(c43, ai, b3); }
            if (R.Value > 5) { var ai = Vector256.Create(*(int*)(a + 5 * lda + 4 * q)).AsByte(); c50 = AvxVnni.MultiplyWideningAndAdd(c50, ai, b0); c51 = AvxVnni.MultiplyWideningAndAdd(c51, ai, b1); c52 = AvxVnni.MultiplyWideningAndAdd(c52, ai, b2); c53 = AvxVnni.MultiplyWideningAndAdd(c53, ai, b3); }
            b += 4 * Width;
        }
        if (R.Value > 0) { c00.Store(c + 0 * Width); c01.Store(c + 0 * Width + 8); c02.Store(c + 0 * Width + 16); c03.Store(c + 0 * Width + 24); }
        if (R.Value > 1) { c10.Store(c + 1 * Width); c11.Store(c + 1 * Width + 8); c12.Store(c + 1 * Width + 16); c13.Store(c + 1 * Width + 24); }
        if (R.Value > 2) { c20.Store(c + 2 * Width); c21.Store(c + 2 * Width + 8); c22.Store(c + 2 * Width + 16); c23.Store(c + 2 * Width + 24); }
        if (R.Value > 3) { c30.Store(c + 3 * Width); c31.Store(c + 3 * Width + 8); c32.Store(c + 3 * Width + 16); c33.Store(c + 3 * Width + 24); }
        if (R.Value > 4) { c40.Store(c + 4 * Width); c41.Store(c + 4 * Width + 8); c42.Store(c + 4 * Width + 16); c43.Store(c + 4 * Width + 24); }
        if (R.Value > 5) { c50.Store(c + 5 * Width); c51.Store(c + 5 * Width + 8); c52.Store(c + 5 * Width + 16); c53.Store(c + 5 * Width + 24); }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Wide512<R>(byte* a, nint lda, sbyte* b, int quads, int* c) where R : struct, IRowCount
    {
        Vector512<int> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<int> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<int> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<int> c30 = default, c31 = default, c32 = default, c33 = default;
        Vector512<int> c40 = default, c41 = default, c42 = default, c43 = default;
        Vector512<int> c50 = default, c51 = default, c52 = default, c53 = default;
        for (int q = 0; q < quads; q++)
        {
            var w0 = Avx512BW.ConvertToVector512Int16(Vector256.Load(b)); var w1 = Avx512BW.ConvertToVector512Int16(Vector256.Load(b + 32));
            var w2 = Avx512BW.ConvertToVector512Int16(Vector256.Load(b + 64)); var w3 = Avx512BW.ConvertToVector512Int16(Vector256.Load(b + 96));
            if (R.Value > 0) { var ai = Vector512.Create(*(long*)(a + 0 * lda + 8 * q)).AsInt16(); c00 += Avx512BW.MultiplyAddAdjacent(w0, ai); c01 += Avx512BW.MultiplyAddAdjacent(w1, ai); c02 += Avx512BW.MultiplyAddAdjacent(w2, ai); c03 += Avx512BW.MultiplyAddAdjacent(w3, ai); }
            if (R.Value > 1) { var ai = Vector512.Create(*(long*)(a + 1 * lda + 8 * q)).AsInt16(); c10 += Avx512BW.MultiplyAddAdjacent(w0, ai); c11 += Avx512BW.MultiplyAddAdjacent(w1, ai); c12 += Avx512BW.MultiplyAddAdjacent(w2, ai); c13 += Avx512BW.MultiplyAddAdjacent(w3, ai); }
            if (R.Value > 2) { var ai = Vector512.Create(*(long*)(a + 2 * lda + 8 * q)).AsInt16(); c20 += Avx512BW.MultiplyAddAdjacent(w0, ai); c21 += Avx512BW.MultiplyAddAdjacent(w1, ai); c22 += Avx512BW.MultiplyAddAdjacent(w2, ai); c23 += Avx512BW.MultiplyAddAdjacent(w3, ai); }
            if (R.Value > 3) { var ai = Vector512.Create(*(long*)(a + 3 * lda + 8 * q)).AsInt16(); c30 += Avx512BW.MultiplyAddAdjacent(w0, ai); c31 += Avx512BW.MultiplyAddAdjacent(w1, ai); c32 += Avx512BW.MultiplyAddAdjacent(w2, ai); c33 += Avx512BW.MultiplyAddAdjacent(w3, ai); }
            if (R.Value > 4) { var ai = Vector512.Create(*(long*)(a + 4 * lda + 8 * q)).AsInt16(); c40 += Avx512BW.MultiplyAddAdjacent(w0, ai); c41 += Avx512BW.MultiplyAddAdjacent(w1, ai); c42 += Avx512BW.MultiplyAddAdjacent(w2, ai); c43 += Avx512BW.MultiplyAddAdjacent(w3, ai); }
            if (R.Value > 5) { var ai = Vector512.Create(*(long*)(a + 5 * lda + 8 * q)).AsInt16(); c50 += Avx512BW.MultiplyAddAdjacent(w0, ai); c51 += Avx512BW.MultiplyAddAdjacent(w1, ai); c52 += Avx512BW.MultiplyAddAdjacent(w2, ai); c53 += Avx512BW.MultiplyAddAdjacent(w3, ai); }
            b += 4 * Width;
        }
        if (R.Value > 0) { Fold(c00, c01).Store(c + 0 * Width); Fold(c02, c03).Store(c + 0 * Width + 16); }
        if (R.Value > 1) { Fold(c10, c11).Store(c + 1 * Width); Fold(c12, c13).Store(c + 1 * Width + 16); }
        if (R.Value > 2) { Fold(c20, c21).Store(c + 2 * Width); Fold(c22, c23).Store(c + 2 * Width + 16); }
        if (R.Value > 3) { Fold(c30, c31).Store(c + 3 * Width); Fold(c32, c33).Store(c + 3 * Width + 16); }
        if (R.Value > 4) { Fold(c40, c41).Store(c + 4 * Width); Fold(c42, c43).Store(c + 4 * Width + 16); }
        if (R.Value > 5) { Fold(c50, c51).Store(c + 5 * Width); Fold(c52, c53).Store(c + 5 * Width + 16); }

        // [c0 (k0,k1), c0 (k2,k3), c1 ..., c7] of two registers → 16 column sums.
        static Vector512<int> Fold(Vector512<int> x, Vector512<int> y) =>
            Avx512F.PermuteVar16x32x2(x, Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), y)
            + Avx512F.PermuteVar16x32x2(x, Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), y);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Wide256<R>(byte* a, nint lda, sbyte* b, int quads, int* c) where R : struct, IRowCount
    {
        for (int half = 0; half < Width; half += 16)
        {
            sbyte* bh = b + half * 4;
            Vector256<int> c00 = default, c01 = default, c02 = default, c03 = default;
            Vector256<int> c10 = default, c11 = default, c12 = default, c13 = default;
            for (int q = 0; q < quads; q++)
            {
                var w0 = Avx2.ConvertToVector256Int16(Vector128.Load(bh)); var w1 = Avx2.ConvertToVector256Int16(Vector128.Load(bh + 16));
                var w2 = Avx2.ConvertToVector256Int16(Vector128.Load(bh + 32)); var w3 = Avx2.ConvertToVector256Int16(Vector128.Load(bh + 48));
                if (R.Value > 0) { var ai = Vector256.Create(*(long*)(a + 0 * lda + 8 * q)).AsInt16(); c00 += Avx2.MultiplyAddAdjacent(w0, ai); c01 += Avx2.MultiplyAddAdjacent(w1, ai); c02 += Avx2.MultiplyAddAdjacent(w2, ai); c03 += Avx2.MultiplyAddAdjacent(w3, ai); }
                if (R.Value > 1) { var ai = Vector256.Create(*(long*)(a + 1 * lda + 8 * q)).AsInt16(); c10 += Avx2.MultiplyAddAdjacent(w0, ai); c11 += Avx2.MultiplyAddAdjacent(w1, ai); c12 += Avx2.MultiplyAddAdjacent(w2, ai); c13 += Avx2.MultiplyAddAdjacent(w3, ai); }
                bh += 4 * Width;
            }
            if (R.Value > 0) { Fold(c00, c01).Store(c + 0 * Width + half); Fold(c02, c03).Store(c + 0 * Width + half + 8); }
            if (R.Value > 1) { Fold(c10, c11).Store(c + 1 * Width + half); Fold(c12, c13).Store(c + 1 * Width + half + 8); }
        }

        // Pair sums of columns 0-3 and 4-7 → 8 column sums (vphaddd works per 128-bit lane; vpermq restores the order).
        static Vector256<int> Fold(Vector256<int> x, Vector256<int> y) => Avx2.Permute4x64(Avx2.HorizontalAdd(x, y).AsInt64(), 0xD8).AsInt32();
    }
}
