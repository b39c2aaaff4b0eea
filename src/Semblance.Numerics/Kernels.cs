// Element-wise and row-wise kernels of the encoders; models never loop over floats themselves.
using System.Numerics.Tensors;

namespace Semblance.Numerics;

/// <summary>
/// Span kernels in the style of <see cref="TensorPrimitives"/> (and built on it where it already does the job).
/// Unless stated, destination may be the same span as the source (in place), but must not partially overlap it.
/// </summary>
internal static class Kernels
{
    /// <summary>Index of the first NaN or ±Inf in <paramref name="x"/>, or -1 when every value is finite.</summary>
    public static long IndexOfNonFinite(ReadOnlySpan<float> x)
    {
        int i = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated)
        {
            int w = System.Numerics.Vector<float>.Count;
            var v = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(x);
            // x − x is 0 for every finite x and NaN for NaN and ±Inf.
            for (int b = 0; b < v.Length; b++)
            {
                if (!System.Numerics.Vector.EqualsAll(v[b] - v[b], System.Numerics.Vector<float>.Zero)) { i = b * w; break; }
                i = (b + 1) * w;
            }
        }
        for (; i < x.Length; i++) if (!float.IsFinite(x[i])) return i;
        return -1;
    }

    /// <summary>Row-wise LayerNorm over rows of length <paramref name="cols"/>: y = (x − μ)/√(σ² + eps)·γ + β, σ² biased (as PyTorch).</summary>
    /// <remarks>
    /// Float32 passes (mean, deviations with a correction for the rounding of the mean, squared deviations) and
    /// 1/√(σ² + eps) in double: error ≈ 1e-7 relative to the output scale, even for rows far from zero mean.
    /// </remarks>
    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps, Span<float> y, int rows, int cols)
    {
        CheckRows(x.Length, y.Length, rows, cols);
        if (gamma.Length != cols) throw new ArgumentException($"gamma has {gamma.Length} values, expected {cols}", nameof(gamma));
        if (beta.Length != cols) throw new ArgumentException($"beta has {beta.Length} values, expected {cols}", nameof(beta));
        if (cols == 0) return;
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * cols, cols);
            var yr = y.Slice(r * cols, cols);
            float mean = TensorPrimitives.Sum(xr) / cols;
            TensorPrimitives.Subtract(xr, mean, yr);
            // μ rounded to float is off by up to half an ulp of μ, which matters when |μ| ≫ σ; the mean of the
            // deviations measures that rounding (x − μ is exact when x and μ are close) and removes it.
            float correction = TensorPrimitives.Sum(yr) / cols;
            if (correction != 0f) TensorPrimitives.Subtract(yr, correction, yr);
            float variance = TensorPrimitives.SumOfSquares(yr) / cols;
            float inv = (float)(1.0 / Math.Sqrt((double)variance + eps));
            TensorPrimitives.Multiply(yr, inv, yr);
            TensorPrimitives.FusedMultiplyAdd(yr, gamma, beta, yr);
        }
    }

    /// <summary>LayerNorm with its rows spread over <paramref name="ctx"/> in chunks (results identical to the single-threaded call).</summary>
    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps, Span<float> y, int rows, int cols, ComputeContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        CheckRows(x.Length, y.Length, rows, cols);
        const int RowsPerChunk = 64;
        int chunks = (rows + RowsPerChunk - 1) / RowsPerChunk;
        if (ctx.Threads == 1 || chunks <= 1)
        {
            LayerNorm(x, gamma, beta, eps, y, rows, cols);
            return;
        }
        unsafe
        {
            fixed (float* px = x)
            fixed (float* py = y)
            fixed (float* pg = gamma)
            fixed (float* pbeta = beta)
            {
                float* xs = px, ys = py, gs = pg, bs = pbeta;
                int gLen = gamma.Length, bLen = beta.Length;
                ctx.For(chunks, c =>
                {
                    int r0 = c * RowsPerChunk, n = Math.Min(RowsPerChunk, rows - r0);
                    LayerNorm(new ReadOnlySpan<float>(xs + (long)r0 * cols, n * cols), new ReadOnlySpan<float>(gs, gLen),
                        new ReadOnlySpan<float>(bs, bLen), eps, new Span<float>(ys + (long)r0 * cols, n * cols), n, cols);
                });
            }
        }
    }

    /// <summary>Exact GELU: 0.5·x·(1 + erf(x/√2)); error ≤ 1.5e-7·max(1, |y|), and relative ≤ 1e-6 in the negative tail (see <see cref="VectorMath"/>).</summary>
    public static void Gelu(ReadOnlySpan<float> x, Span<float> y) => VectorMath.Map<VectorMath.GeluOp>(Simd.Current, x, CheckSameLength(x, y));

    /// <summary>Tanh-approximated GELU ("gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    public static void GeluTanh(ReadOnlySpan<float> x, Span<float> y) => VectorMath.Map<VectorMath.GeluTanhOp>(Simd.Current, x, CheckSameLength(x, y));

    /// <summary>The error function, absolute error ≤ 1e-7 (measured 6.5e-8).</summary>
    public static void Erf(ReadOnlySpan<float> x, Span<float> y) => VectorMath.Map<VectorMath.ErfOp>(Simd.Current, x, CheckSameLength(x, y));

    public static void Relu(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Max(x, 0f, CheckSameLength(x, y));

    public static void Tanh(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Tanh(x, CheckSameLength(x, y));

    /// <summary>Applies <paramref name="activation"/> element-wise (what <see cref="Gemm.Linear(ReadOnlySpan{float}, int, PackedWeight, ReadOnlySpan{float}, Activation, Span{float}, ComputeContext)"/> fuses).</summary>
    public static void Apply(Activation activation, ReadOnlySpan<float> x, Span<float> y) => VectorMath.Apply(Simd.Current, activation, x, CheckSameLength(x, y));

    /// <summary>y = a + b.</summary>
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => TensorPrimitives.Add(a, b, y);

    /// <summary>y = x · scale.</summary>
    public static void Scale(ReadOnlySpan<float> x, float scale, Span<float> y) => TensorPrimitives.Multiply(x, scale, y);

    /// <summary>Divides each row of length <paramref name="cols"/> by max(‖row‖₂, 1e−12), as torch.nn.functional.normalize.</summary>
    public static void L2NormalizeRows(Span<float> x, int rows, int cols)
    {
        CheckRows(x.Length, x.Length, rows, cols);
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * cols, cols);
            float norm = TensorPrimitives.Norm(row);
            TensorPrimitives.Divide(row, MathF.Max(norm, 1e-12f), row);
        }
    }

    /// <summary>In-place softmax of each row of length <paramref name="cols"/>, over its first <paramref name="valid"/> entries; the rest become 0.</summary>
    /// <remarks>Max, then e^(x − max) and its sum in one pass (float exp, ≤ 2 ulp), then one multiply by 1/sum. −∞ entries give 0.</remarks>
    public static void SoftmaxRows(Span<float> x, int rows, int cols, int valid)
    {
        CheckRows(x.Length, x.Length, rows, cols);
        if (valid < 0 || valid > cols) throw new ArgumentOutOfRangeException(nameof(valid), valid, $"valid must be in [0, {cols}]");
        var level = Simd.Current;
        if (level == SimdLevel.Vector512 && cols <= VectorMath.ShortSoftmaxMax && valid > 0)
        {
            for (int r = 0; r < rows; r++) VectorMath.SoftmaxShort(x.Slice(r * cols, cols), valid);
            return;
        }
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * cols, cols);
            row[valid..].Clear();
            if (valid == 0) continue;
            var live = row[..valid];
            float max = TensorPrimitives.Max(live);
            float sum = VectorMath.ExpShiftedSum(level, live, max);
            TensorPrimitives.Multiply(live, 1f / sum, live);
        }
    }

    private static Span<float> CheckSameLength(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException($"destination has {y.Length} values, expected at least {x.Length}", nameof(y));
        return y[..x.Length];
    }

    private static void CheckRows(int xLength, int yLength, int rows, int cols)
    {
        if (rows < 0 || cols < 0) throw new ArgumentException($"negative shape {rows}x{cols}");
        long need = (long)rows * cols;
        if (xLength < need) throw new ArgumentException($"input has {xLength} values, expected at least {rows}x{cols}");
        if (yLength < need) throw new ArgumentException($"output has {yLength} values, expected at least {rows}x{cols}");
    }
}
