// Matrix products used by the encoders: Linear layers (packed weights) and attention (strided views).
using System.Numerics.Tensors;

namespace Semblance.Numerics;

public static class Gemm
{
    /// <summary>y[m, out] = x[m, in] · Wᵀ + bias. <paramref name="bias"/> may be empty.</summary>
    public static void Linear(ReadOnlySpan<float> x, int m, PackedWeight w, ReadOnlySpan<float> bias, Span<float> y, ComputeContext ctx)
    {
        int n = w.OutFeatures, k = w.InFeatures;
        if (x.Length < m * k) throw new ArgumentException("x is smaller than m x in", nameof(x));
        if (y.Length < m * n) throw new ArgumentException("y is smaller than m x out", nameof(y));
        if (!bias.IsEmpty && bias.Length != n) throw new ArgumentException("bias length differs from out", nameof(bias));
        var data = w.Data;
        for (int r = 0; r < m; r++)
        {
            var yr = y.Slice(r * n, n);
            if (bias.IsEmpty) yr.Clear(); else bias.CopyTo(yr);
            var xr = x.Slice(r * k, k);
            for (int i = 0; i < k; i++)
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(data, i * n, n), xr[i], yr, yr);
        }
    }

    /// <summary>C[m, n] = alpha · A[m, k] · B[n, k]ᵀ, with row strides lda, ldb, ldc.</summary>
    public static void MultiplyABt(int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var ai = a.Slice(i * lda, k);
            for (int j = 0; j < n; j++)
                c[i * ldc + j] = alpha * TensorPrimitives.Dot(ai, b.Slice(j * ldb, k));
        }
    }

    /// <summary>C[m, n] = A[m, k] · B[k, n], with row strides lda, ldb, ldc.</summary>
    public static void MultiplyAB(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var ci = c.Slice(i * ldc, n);
            ci.Clear();
            for (int p = 0; p < k; p++)
                TensorPrimitives.MultiplyAdd(b.Slice(p * ldb, n), a[i * lda + p], ci, ci);
        }
    }
}
