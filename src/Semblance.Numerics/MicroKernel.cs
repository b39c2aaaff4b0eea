// GEMM micro-kernels: C[rows, 32] (+)= A[rows, kc] · B[kc, 32], one register tile per call, per SIMD tier.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Semblance.Numerics;

/// <summary>Row count of a micro-kernel instantiation, a JIT-time constant so unused rows compile away.</summary>
internal interface IRowCount
{
    static abstract int Value { get; }
}

internal struct Rows1 : IRowCount { public static int Value => 1; }
internal struct Rows2 : IRowCount { public static int Value => 2; }
internal struct Rows3 : IRowCount { public static int Value => 3; }
internal struct Rows4 : IRowCount { public static int Value => 4; }
internal struct Rows5 : IRowCount { public static int Value => 5; }
internal struct Rows6 : IRowCount { public static int Value => 6; }
internal struct Rows7 : IRowCount { public static int Value => 7; }
internal struct Rows8 : IRowCount { public static int Value => 8; }
internal struct Rows9 : IRowCount { public static int Value => 9; }
internal struct Rows10 : IRowCount { public static int Value => 10; }
internal struct Rows11 : IRowCount { public static int Value => 11; }
internal struct Rows12 : IRowCount { public static int Value => 12; }

/// <summary>
/// Every tier computes each output element as the same chain acc = fma(a[i,p], b[p,j], acc) for p = 0, 1, ...
/// starting from 0 (or from the partial sum stored in C when a K-block continues), so all tiers, tile shapes
/// and row groupings give bitwise-identical results.
/// </summary>
/// <remarks>
/// Vector512: up to 12 rows × 2 zmm = 24 accumulators + 2 B vectors + 1 broadcast of the 32 registers; each
/// step of p does 24 FMAs against 2 aligned B loads and 12 broadcast loads of A, read straight from x's rows
/// (K is x's contiguous dimension, so A needs no packing). Vector256 targets AVX2's 16 registers: up to
/// 6 rows × 2 ymm (16 columns), run twice per 32-wide panel. Vector128 targets ARM64's 32 NEON registers:
/// 6 rows × 4 vectors (16 columns), also run twice per panel.
/// </remarks>
internal static unsafe class MicroKernel
{
    public const int Width = 32;

    /// <summary>Largest row count per call for <paramref name="level"/>; callers group rows by it.</summary>
    public static int MaxRows(SimdLevel level) => level is SimdLevel.Vector256 or SimdLevel.Vector128 ? 6 : 12;

    /// <summary>c[rows, 0..32) = (accumulate ? c : 0) + a[rows, 0..kc) · b[0..kc, 0..32); B rows are ldb floats apart.</summary>
    /// <param name="prefetch">Where the caller's next panel starts (same layout as b), or null: the Vector512 tier
    /// asks for its row p (two cache lines, into L2) at step p, so the next panel streams in from memory while
    /// this one is multiplied. A hint only: it never changes a result.</param>
    public static void Tile(SimdLevel level, int rows, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, int kc, bool accumulate, float* prefetch = null)
    {
        switch (level)
        {
            case SimdLevel.Vector512:
                Tile512<Float32Row>(rows, a, lda, (byte*)b, ldb * sizeof(float), c, ldc, kc, accumulate, (byte*)(prefetch == null ? b : prefetch));
                break;
            case SimdLevel.Vector256:
                for (int r = 0; r < rows; r += 6)
                {
                    int n = Math.Min(6, rows - r);
                    Tile256(n, a + r * lda, lda, b, ldb, c + r * ldc, ldc, kc, accumulate);
                    Tile256(n, a + r * lda, lda, b + 16, ldb, c + r * ldc + 16, ldc, kc, accumulate);
                }
                break;
            case SimdLevel.Vector128:
                for (int r = 0; r < rows; r += 6)
                {
                    int n = Math.Min(6, rows - r);
                    Tile128(n, a + r * lda, lda, b, ldb, c + r * ldc, ldc, kc, accumulate);
                    Tile128(n, a + r * lda, lda, b + 16, ldb, c + r * ldc + 16, ldc, kc, accumulate);
                }
                break;
            default:
                TileScalar(rows, a, lda, b, ldb, c, ldc, kc, accumulate);
                break;
        }
    }

    /// <summary>One B row of a packed panel as two float32 vectors (columns 0..15 and 16..31), and its size.</summary>
    internal interface IPanelRow
    {
        static abstract int Bytes { get; }

        static abstract (Vector512<float> Low, Vector512<float> High) Load(byte* row);
    }

    private struct Float32Row : IPanelRow
    {
        public static int Bytes => Width * sizeof(float);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector512<float> Low, Vector512<float> High) Load(byte* row) => (Vector512.Load((float*)row), Vector512.Load((float*)row + 16));
    }

    /// <summary>The Vector512 tile over panel rows of any <typeparamref name="TRow"/>; <paramref name="ldb"/> in bytes.</summary>
    internal static void Tile512<TRow>(int rows, float* a, nint lda, byte* b, nint ldb, float* c, nint ldc, int kc, bool accumulate, byte* pf) where TRow : struct, IPanelRow
    {
        switch (rows)
        {
            case 1: Tile512<Rows1, TRow>(a, lda, b, ldb, c, ldc, kc, accumulate, pf); break;
            case 2: Tile512<Rows2, TRow>(a, lda, b, ldb, c, ldc, kc, accumulate, pf); break;
            case 3: Tile512<Rows3, TRow>(a, lda, b, ldb, c, ldc, kc, accumulate, pf); break;
            case 4: Tile512<Rows4, TRow>(a, lda, b, ldb, c, ldc, kc, accumulate, pf); break;
            case 5: Tile512<Rows5, TRow>(a, lda, b, ldb, c, ldc, kc, accumulate, pf); break;
            case 6: Tile512<Rows6, TRow>(a, lda, b, ldb, c, ldc, kc, accumulate, pf); break;
            case 7: Tile512<Rows7, TRow>(a, lda, b, ldb, c, ldc, kc, accumulate, pf); break;
            case 8: Tile512<Rows8, TRow>(a, lda, b, ldb, c, ldc, kc, accumulate, pf); break;
            case 9: Tile512<Rows9, TRow>(a, lda, b, ldb, c, ldc, kc, accumulate, pf); break;
            case 10: Tile512<Rows10, TRow>(a, lda, b, ldb, c, ldc, kc, accumulate, pf); break;
            case 11: Tile512<Rows11, TRow>(a, lda, b, ldb, c, ldc, kc, accumulate, pf); break;
            case 12: Tile512<Rows12, TRow>(a, lda, b, ldb, c, ldc, kc, accumulate, pf); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows), rows, "a Vector512 tile has 1 to 12 rows");
        }
    }

    private static void Tile256(int rows, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, int kc, bool accumulate)
    {
        switch (rows)
        {
            case 1: Tile256<Rows1>(a, lda, b, ldb, c, ldc, kc, accumulate); break;
            case 2: Tile256<Rows2>(a, lda, b, ldb, c, ldc, kc, accumulate); break;
            case 3: Tile256<Rows3>(a, lda, b, ldb, c, ldc, kc, accumulate); break;
            case 4: Tile256<Rows4>(a, lda, b, ldb, c, ldc, kc, accumulate); break;
            case 5: Tile256<Rows5>(a, lda, b, ldb, c, ldc, kc, accumulate); break;
            case 6: Tile256<Rows6>(a, lda, b, ldb, c, ldc, kc, accumulate); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows), rows, "a Vector256 tile has 1 to 6 rows");
        }
    }

    private static void Tile128(int rows, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, int kc, bool accumulate)
    {
        switch (rows)
        {
            case 1: Tile128<Rows1>(a, lda, b, ldb, c, ldc, kc, accumulate); break;
            case 2: Tile128<Rows2>(a, lda, b, ldb, c, ldc, kc, accumulate); break;
            case 3: Tile128<Rows3>(a, lda, b, ldb, c, ldc, kc, accumulate); break;
            case 4: Tile128<Rows4>(a, lda, b, ldb, c, ldc, kc, accumulate); break;
            case 5: Tile128<Rows5>(a, lda, b, ldb, c, ldc, kc, accumulate); break;
            case 6: Tile128<Rows6>(a, lda, b, ldb, c, ldc, kc, accumulate); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows), rows, "a Vector128 tile has 1 to 6 rows");
        }
    }

    private static void TileScalar(int rows, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, int kc, bool accumulate)
    {
        for (int i = 0; i < rows; i++)
        {
            float* ci = c + i * ldc;
            if (!accumulate) new Span<float>(ci, Width).Clear();
            float* ai = a + i * lda;
            for (int p = 0; p < kc; p++)
            {
                float av = ai[p];
                float* bp = b + p * ldb;
                for (int j = 0; j < Width; j++) ci[j] = MathF.FusedMultiplyAdd(av, bp[j], ci[j]);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512<R, TRow>(float* a, nint lda, byte* b, nint ldb, float* c, nint ldc, int kc, bool accumulate, byte* pf) where R : struct, IRowCount where TRow : struct, IPanelRow
    {
        Vector512<float> c00 = default; Vector512<float> c01 = default;
        Vector512<float> c10 = default; Vector512<float> c11 = default;
        Vector512<float> c20 = default; Vector512<float> c21 = default;
        Vector512<float> c30 = default; Vector512<float> c31 = default;
        Vector512<float> c40 = default; Vector512<float> c41 = default;
        Vector512<float> c50 = default; Vector512<float> c51 = default;
        Vector512<float> c60 = default; Vector512<float> c61 = default;
        Vector512<float> c70 = default; Vector512<float> c71 = default;
        Vector512<float> c80 = default; Vector512<float> c81 = default;
        Vector512<float> c90 = default; Vector512<float> c91 = default;
        Vector512<float> c100 = default; Vector512<float> c101 = default;
        Vector512<float> c110 = default; Vector512<float> c111 = default;
        if (accumulate)
        {
            if (R.Value > 0) { c00 = Vector512.Load(c + 0 * ldc + 0); c01 = Vector512.Load(c + 0 * ldc + 16); }
            if (R.Value > 1) { c10 = Vector512.Load(c + 1 * ldc + 0); c11 = Vector512.Load(c + 1 * ldc + 16); }
            if (R.Value > 2) { c20 = Vector512.Load(c + 2 * ldc + 0); c21 = Vector512.Load(c + 2 * ldc + 16); }
            if (R.Value > 3) { c30 = Vector512.Load(c + 3 * ldc + 0); c31 = Vector512.Load(c + 3 * ldc + 16); }
            if (R.Value > 4) { c40 = Vector512.Load(c + 4 * ldc + 0); c41 = Vector512.Load(c + 4 * ldc + 16); }
            if (R.Value > 5) { c50 = Vector512.Load(c + 5 * ldc + 0); c51 = Vector512.Load(c + 5 * ldc + 16); }
            if (R.Value > 6) { c60 = Vector512.Load(c + 6 * ldc + 0); c61 = Vector512.Load(c + 6 * ldc + 16); }
            if (R.Value > 7) { c70 = Vector512.Load(c + 7 * ldc + 0); c71 = Vector512.Load(c + 7 * ldc + 16); }
            if (R.Value > 8) { c80 = Vector512.Load(c + 8 * ldc + 0); c81 = Vector512.Load(c + 8 * ldc + 16); }
            if (R.Value > 9) { c90 = Vector512.Load(c + 9 * ldc + 0); c91 = Vector512.Load(c + 9 * ldc + 16); }
            if (R.Value > 10) { c100 = Vector512.Load(c + 10 * ldc + 0); c101 = Vector512.Load(c + 10 * ldc + 16); }
            if (R.Value > 11) { c110 = Vector512.Load(c + 11 * ldc + 0); c111 = Vector512.Load(c + 11 * ldc + 16); }
        }
        nint lda2 = lda * 2;
        float* a0 = a + 0 * lda;
        float* a3 = a + 3 * lda;
        float* a6 = a + 6 * lda;
        float* a9 = a + 9 * lda;
        for (int p = 0; p < kc; p++)
        {
            var (b0, b1) = TRow.Load(b);
            if (Sse.IsSupported) { Sse.Prefetch1(pf); if (TRow.Bytes > 64) Sse.Prefetch1(pf + 64); pf += ldb; }
            if (R.Value > 0) { var ai = Vector512.Create(*a0); c00 = Vector512.FusedMultiplyAdd(ai, b0, c00); c01 = Vector512.FusedMultiplyAdd(ai, b1, c01); }
            if (R.Value > 1) { var ai = Vector512.Create(a0[lda]); c10 = Vector512.FusedMultiplyAdd(ai, b0, c10); c11 = Vector512.FusedMultiplyAdd(ai, b1, c11); }
            if (R.Value > 2) { var ai = Vector512.Create(a0[lda2]); c20 = Vector512.FusedMultiplyAdd(ai, b0, c20); c21 = Vector512.FusedMultiplyAdd(ai, b1, c21); }
            if (R.Value > 3) { var ai = Vector512.Create(*a3); c30 = Vector512.FusedMultiplyAdd(ai, b0, c30); c31 = Vector512.FusedMultiplyAdd(ai, b1, c31); }
            if (R.Value > 4) { var ai = Vector512.Create(a3[lda]); c40 = Vector512.FusedMultiplyAdd(ai, b0, c40); c41 = Vector512.FusedMultiplyAdd(ai, b1, c41); }
            if (R.Value > 5) { var ai = Vector512.Create(a3[lda2]); c50 = Vector512.FusedMultiplyAdd(ai, b0, c50); c51 = Vector512.FusedMultiplyAdd(ai, b1, c51); }
            if (R.Value > 6) { var ai = Vector512.Create(*a6); c60 = Vector512.FusedMultiplyAdd(ai, b0, c60); c61 = Vector512.FusedMultiplyAdd(ai, b1, c61); }
            if (R.Value > 7) { var ai = Vector512.Create(a6[lda]); c70 = Vector512.FusedMultiplyAdd(ai, b0, c70); c71 = Vector512.FusedMultiplyAdd(ai, b1, c71); }
            if (R.Value > 8) { var ai = Vector512.Create(a6[lda2]); c80 = Vector512.FusedMultiplyAdd(ai, b0, c80); c81 = Vector512.FusedMultiplyAdd(ai, b1, c81); }
            if (R.Value > 9) { var ai = Vector512.Create(*a9); c90 = Vector512.FusedMultiplyAdd(ai, b0, c90); c91 = Vector512.FusedMultiplyAdd(ai, b1, c91); }
            if (R.Value > 10) { var ai = Vector512.Create(a9[lda]); c100 = Vector512.FusedMultiplyAdd(ai, b0, c100); c101 = Vector512.FusedMultiplyAdd(ai, b1, c101); }
            if (R.Value > 11) { var ai = Vector512.Create(a9[lda2]); c110 = Vector512.FusedMultiplyAdd(ai, b0, c110); c111 = Vector512.FusedMultiplyAdd(ai, b1, c111); }
            a0++; if (R.Value > 3) a3++; if (R.Value > 6) a6++; if (R.Value > 9) a9++; b += ldb;
        }
        if (R.Value > 0) { c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 16); }
        if (R.Value > 1) { c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 16); }
        if (R.Value > 2) { c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 16); }
        if (R.Value > 3) { c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 16); }
        if (R.Value > 4) { c40.Store(c + 4 * ldc + 0); c41.Store(c + 4 * ldc + 16); }
        if (R.Value > 5) { c50.Store(c + 5 * ldc + 0); c51.Store(c + 5 * ldc + 16); }
        if (R.Value > 6) { c60.Store(c + 6 * ldc + 0); c61.Store(c + 6 * ldc + 16); }
        if (R.Value > 7) { c70.Store(c + 7 * ldc + 0); c71.Store(c + 7 * ldc + 16); }
        if (R.Value > 8) { c80.Store(c + 8 * ldc + 0); c81.Store(c + 8 * ldc + 16); }
        if (R.Value > 9) { c90.Store(c + 9 * ldc + 0); c91.Store(c + 9 * ldc + 16); }
        if (R.Value > 10) { c100.Store(c + 10 * ldc + 0); c101.Store(c + 10 * ldc + 16); }
        if (R.Value > 11) { c110.Store(c + 11 * ldc + 0); c111.Store(c + 11 * ldc + 16); }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile256<R>(float* a, nint lda, float* b, nint ldb, float* c, nint ldc, int kc, bool accumulate) where R : struct, IRowCount
    {
        Vector256<float> c00 = default; Vector256<float> c01 = default;
        Vector256<float> c10 = default; Vector256<float> c11 = default;
        Vector256<float> c20 = default; Vector256<float> c21 = default;
        Vector256<float> c30 = default; Vector256<float> c31 = default;
        Vector256<float> c40 = default; Vector256<float> c41 = default;
        Vector256<float> c50 = default; Vector256<float> c51 = default;
        if (accumulate)
        {
            if (R.Value > 0) { c00 = Vector256.Load(c + 0 * ldc + 0); c01 = Vector256.Load(c + 0 * ldc + 8); }
            if (R.Value > 1) { c10 = Vector256.Load(c + 1 * ldc + 0); c11 = Vector256.Load(c + 1 * ldc + 8); }
            if (R.Value > 2) { c20 = Vector256.Load(c + 2 * ldc + 0); c21 = Vector256.Load(c + 2 * ldc + 8); }
            if (R.Value > 3) { c30 = Vector256.Load(c + 3 * ldc + 0); c31 = Vector256.Load(c + 3 * ldc + 8); }
            if (R.Value > 4) { c40 = Vector256.Load(c + 4 * ldc + 0); c41 = Vector256.Load(c + 4 * ldc + 8); }
            if (R.Value > 5) { c50 = Vector256.Load(c + 5 * ldc + 0); c51 = Vector256.Load(c + 5 * ldc + 8); }
        }
        nint lda2 = lda * 2;
        float* a0 = a + 0 * lda;
        float* a3 = a + 3 * lda;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b + 0); var b1 = Vector256.Load(b + 8);
            if (R.Value > 0) { var ai = Vector256.Create(*a0); c00 = Vector256.FusedMultiplyAdd(ai, b0, c00); c01 = Vector256.FusedMultiplyAdd(ai, b1, c01); }
            if (R.Value > 1) { var ai = Vector256.Create(a0[lda]); c10 = Vector256.FusedMultiplyAdd(ai, b0, c10); c11 = Vector256.FusedMultiplyAdd(ai, b1, c11); }
            if (R.Value > 2) { var ai = Vector256.Create(a0[lda2]); c20 = Vector256.FusedMultiplyAdd(ai, b0, c20); c21 = Vector256.FusedMultiplyAdd(ai, b1, c21); }
            if (R.Value > 3) { var ai = Vector256.Create(*a3); c30 = Vector256.FusedMultiplyAdd(ai, b0, c30); c31 = Vector256.FusedMultiplyAdd(ai, b1, c31); }
            if (R.Value > 4) { var ai = Vector256.Create(a3[lda]); c40 = Vector256.FusedMultiplyAdd(ai, b0, c40); c41 = Vector256.FusedMultiplyAdd(ai, b1, c41); }
            if (R.Value > 5) { var ai = Vector256.Create(a3[lda2]); c50 = Vector256.FusedMultiplyAdd(ai, b0, c50); c51 = Vector256.FusedMultiplyAdd(ai, b1, c51); }
            a0++; if (R.Value > 3) a3++; b += ldb;
        }
        if (R.Value > 0) { c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 8); }
        if (R.Value > 1) { c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 8); }
        if (R.Value > 2) { c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 8); }
        if (R.Value > 3) { c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 8); }
        if (R.Value > 4) { c40.Store(c + 4 * ldc + 0); c41.Store(c + 4 * ldc + 8); }
        if (R.Value > 5) { c50.Store(c + 5 * ldc + 0); c51.Store(c + 5 * ldc + 8); }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile128<R>(float* a, nint lda, float* b, nint ldb, float* c, nint ldc, int kc, bool accumulate) where R : struct, IRowCount
    {
        Vector128<float> c00 = default; Vector128<float> c01 = default; Vector128<float> c02 = default; Vector128<float> c03 = default;
        Vector128<float> c10 = default; Vector128<float> c11 = default; Vector128<float> c12 = default; Vector128<float> c13 = default;
        Vector128<float> c20 = default; Vector128<float> c21 = default; Vector128<float> c22 = default; Vector128<float> c23 = default;
        Vector128<float> c30 = default; Vector128<float> c31 = default; Vector128<float> c32 = default; Vector128<float> c33 = default;
        Vector128<float> c40 = default; Vector128<float> c41 = default; Vector128<float> c42 = default; Vector128<float> c43 = default;
        Vector128<float> c50 = default; Vector128<float> c51 = default; Vector128<float> c52 = default; Vector128<float> c53 = default;
        if (accumulate)
        {
            if (R.Value > 0) { c00 = Vector128.Load(c + 0 * ldc + 0); c01 = Vector128.Load(c + 0 * ldc + 4); c02 = Vector128.Load(c + 0 * ldc + 8); c03 = Vector128.Load(c + 0 * ldc + 12); }
            if (R.Value > 1) { c10 = Vector128.Load(c + 1 * ldc + 0); c11 = Vector128.Load(c + 1 * ldc + 4); c12 = Vector128.Load(c + 1 * ldc + 8); c13 = Vector128.Load(c + 1 * ldc + 12); }
            if (R.Value > 2) { c20 = Vector128.Load(c + 2 * ldc + 0); c21 = Vector128.Load(c + 2 * ldc + 4); c22 = Vector128.Load(c + 2 * ldc + 8); c23 = Vector128.Load(c + 2 * ldc + 12); }
            if (R.Value > 3) { c30 = Vector128.Load(c + 3 * ldc + 0); c31 = Vector128.Load(c + 3 * ldc + 4); c32 = Vector128.Load(c + 3 * ldc + 8); c33 = Vector128.Load(c + 3 * ldc + 12); }
            if (R.Value > 4) { c40 = Vector128.Load(c + 4 * ldc + 0); c41 = Vector128.Load(c + 4 * ldc + 4); c42 = Vector128.Load(c + 4 * ldc + 8); c43 = Vector128.Load(c + 4 * ldc + 12); }
            if (R.Value > 5) { c50 = Vector128.Load(c + 5 * ldc + 0); c51 = Vector128.Load(c + 5 * ldc + 4); c52 = Vector128.Load(c + 5 * ldc + 8); c53 = Vector128.Load(c + 5 * ldc + 12); }
        }
        nint lda2 = lda * 2;
        float* a0 = a + 0 * lda;
        float* a3 = a + 3 * lda;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector128.Load(b + 0); var b1 = Vector128.Load(b + 4); var b2 = Vector128.Load(b + 8); var b3 = Vector128.Load(b + 12);
            if (R.Value > 0) { var ai = Vector128.Create(*a0); c00 = Vector128.FusedMultiplyAdd(ai, b0, c00); c01 = Vector128.FusedMultiplyAdd(ai, b1, c01); c02 = Vector128.FusedMultiplyAdd(ai, b2, c02); c03 = Vector128.FusedMultiplyAdd(ai, b3, c03); }
            if (R.Value > 1) { var ai = Vector128.Create(a0[lda]); c10 = Vector128.FusedMultiplyAdd(ai, b0, c10); c11 = Vector128.FusedMultiplyAdd(ai, b1, c11); c12 = Vector128.FusedMultiplyAdd(ai, b2, c12); c13 = Vector128.FusedMultiplyAdd(ai, b3, c13); }
            if (R.Value > 2) { var ai = Vector128.Create(a0[lda2]); c20 = Vector128.FusedMultiplyAdd(ai, b0, c20); c21 = Vector128.FusedMultiplyAdd(ai, b1, c21); c22 = Vector128.FusedMultiplyAdd(ai, b2, c22); c23 = Vector128.FusedMultiplyAdd(ai, b3, c23); }
            if (R.Value > 3) { var ai = Vector128.Create(*a3); c30 = Vector128.FusedMultiplyAdd(ai, b0, c30); c31 = Vector128.FusedMultiplyAdd(ai, b1, c31); c32 = Vector128.FusedMultiplyAdd(ai, b2, c32); c33 = Vector128.FusedMultiplyAdd(ai, b3, c33); }
            if (R.Value > 4) { var ai = Vector128.Create(a3[lda]); c40 = Vector128.FusedMultiplyAdd(ai, b0, c40); c41 = Vector128.FusedMultiplyAdd(ai, b1, c41); c42 = Vector128.FusedMultiplyAdd(ai, b2, c42); c43 = Vector128.FusedMultiplyAdd(ai, b3, c43); }
            if (R.Value > 5) { var ai = Vector128.Create(a3[lda2]); c50 = Vector128.FusedMultiplyAdd(ai, b0, c50); c51 = Vector128.FusedMultiplyAdd(ai, b1, c51); c52 = Vector128.FusedMultiplyAdd(ai, b2, c52); c53 = Vector128.FusedMultiplyAdd(ai, b3, c53); }
            a0++; if (R.Value > 3) a3++; b += ldb;
        }
        if (R.Value > 0) { c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 4); c02.Store(c + 0 * ldc + 8); c03.Store(c + 0 * ldc + 12); }
        if (R.Value > 1) { c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 4); c12.Store(c + 1 * ldc + 8); c13.Store(c + 1 * ldc + 12); }
        if (R.Value > 2) { c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 4); c22.Store(c + 2 * ldc + 8); c23.Store(c + 2 * ldc + 12); }
        if (R.Value > 3) { c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 4); c32.Store(c + 3 * ldc + 8); c33.Store(c + 3 * ldc + 12); }
        if (R.Value > 4) { c40.Store(c + 4 * ldc + 0); c41.Store(c + 4 * ldc + 4); c42.Store(c + 4 * ldc + 8); c43.Store(c + 4 * ldc + 12); }
        if (R.Value > 5) { c50.Store(c + 5 * ldc + 0); c51.Store(c + 5 * ldc + 4); c52.Store(c + 5 * ldc + 8); c53.Store(c + 5 * ldc + 12); }
    }
}
