// GEMM micro-kernel on 16-bit weight panels: each B row is widened to float32 as it is loaded, then the same
// float32 FMA chain as MicroKernel, so a 16-bit model computes exactly what its weights widened once would.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Semblance.Numerics;

/// <summary>
/// C[rows, 32] (+)= A[rows, kc] · widen(B16[kc, 32]) for the 16-bit panels of <see cref="PackedWeight"/>. The Vector512
/// tile is <see cref="MicroKernel"/>'s 12 × 32 register tile (the same code, over another panel row type) with B read
/// as one 64-byte row of 32 ushorts per step of k (half the bytes) and widened in registers: bfloat16 with a shift and a mask, binary16 through
/// <see cref="HalfFloats.Top"/>. Other tiers (and <see cref="HalfPanelMode.Widened"/>) widen a panel's K-block once
/// into float32 (<see cref="WidenPanel"/>) and run the float32 kernel on it. Either way each output is
/// the chain acc = fma(a[i,p], widen(b[p,j]), acc) over p in order, bitwise the float32 result on widened weights.
/// </summary>
internal static unsafe class WideningMicroKernel
{
    /// <summary>c[rows, 0..32) = (accumulate ? c : 0) + a · widen(b); b's rows are <paramref name="ldb"/> ushorts apart.</summary>
    /// <param name="prefetch">Where the next panel starts (a row is asked for, into L2, at each step), or null.</param>
    public static void Tile512(WeightFormat format, int rows, float* a, nint lda, ushort* b, nint ldb, float* c, nint ldc, int kc, bool accumulate, ushort* prefetch)
    {
        byte* pf = (byte*)(prefetch == null ? b : prefetch);
        if (format == WeightFormat.BFloat16) MicroKernel.Tile512<BFloat16Row>(rows, a, lda, (byte*)b, ldb * sizeof(ushort), c, ldc, kc, accumulate, pf);
        else MicroKernel.Tile512<Float16Row>(rows, a, lda, (byte*)b, ldb * sizeof(ushort), c, ldc, kc, accumulate, pf);
    }

    /// <summary>
    /// dst[p, 0..32) = widen(b[p]) for p &lt; <paramref name="kc"/>, in column order (a float32 panel for
    /// <see cref="MicroKernel"/>); the Vector512 path widens a row in registers, the others call the scalar reference.
    /// </summary>
    public static void WidenPanel(SimdLevel level, WeightFormat format, ushort* b, nint ldb, int kc, float* dst)
    {
        if (level == SimdLevel.Vector512)
        {
            for (int p = 0; p < kc; p++, b += ldb, dst += MicroKernel.Width)
            {
                var (low, high) = Halves(b);
                HalfFloats.Top(format, low).Store(dst);
                HalfFloats.Top(format, high).Store(dst + 16);
            }
            return;
        }
        for (int p = 0; p < kc; p++, b += ldb, dst += MicroKernel.Width)
            for (int j = 0; j < MicroKernel.Width; j++) dst[j] = HalfFloats.Widen(format, b[PackedWeight.Slot16(j)]);
    }

    /// <summary>A 16-bit panel row read as 16 uints: the lower halves (columns 0..15) and upper halves (16..31), each
    /// moved to the top of its uint.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<uint> Low, Vector512<uint> High) Halves(void* row)
    {
        var v = Vector512.Load((uint*)row);
        return (v << 16, v & Vector512.Create(0xFFFF_0000u));
    }

    private struct BFloat16Row : MicroKernel.IPanelRow
    {
        public static int Bytes => MicroKernel.Width * sizeof(ushort);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector512<float> Low, Vector512<float> High) Load(byte* row)
        {
            var (low, high) = Halves(row);
            return (low.AsSingle(), high.AsSingle());
        }
    }

    private struct Float16Row : MicroKernel.IPanelRow
    {
        public static int Bytes => MicroKernel.Width * sizeof(ushort);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector512<float> Low, Vector512<float> High) Load(byte* row)
        {
            var (low, high) = Halves(row);
            return (HalfFloats.Top(WeightFormat.Float16, low), HalfFloats.Top(WeightFormat.Float16, high));
        }
    }
}
