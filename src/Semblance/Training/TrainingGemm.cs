// Matrix products on plain row-major (unpacked, changing) matrices for training: forward, and both backward products.
using System.Numerics.Tensors;
using Semblance.Numerics;

namespace Semblance.Training;

/// <summary>
/// The three products back-propagation needs, built on <see cref="Gemm"/>'s single-threaded strided kernels and
/// split over row blocks of the output across the context's threads. Every output element is one FMA chain in a
/// fixed order, so results do not depend on the thread count.
/// </summary>
internal static class TrainingGemm
{
    /// <summary>Rows of output per parallel task: enough that re-packing B per task is cheap next to the product.</summary>
    private const int MinRowsPerTask = 32;

    /// <summary>C[m, n] = A[m, k] · B[n, k]ᵀ (overwrites C).</summary>
    public static unsafe void ABt(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> b, int n, Span<float> c, ComputeContext ctx)
    {
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            c[..(m * n)].Clear();
            return;
        }
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            float* xa = pa, xb = pb, xc = pc;
            ForRowBlocks(m, ctx, (r0, rows) => Gemm.MultiplyABt(rows, n, k, 1f, new ReadOnlySpan<float>(xa + (long)r0 * k, rows * k), k,
                new ReadOnlySpan<float>(xb, n * k), k, new Span<float>(xc + (long)r0 * n, rows * n), n));
        }
    }

    /// <summary>C[m, n] = A[m, k] · B[k, n] (overwrites C).</summary>
    public static unsafe void AB(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> b, int n, Span<float> c, ComputeContext ctx)
    {
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            c[..(m * n)].Clear();
            return;
        }
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            float* xa = pa, xb = pb, xc = pc;
            ForRowBlocks(m, ctx, (r0, rows) => Gemm.MultiplyAB(rows, n, k, new ReadOnlySpan<float>(xa + (long)r0 * k, rows * k), k,
                new ReadOnlySpan<float>(xb, k * n), n, new Span<float>(xc + (long)r0 * n, rows * n), n));
        }
    }

    /// <summary>Runs <paramref name="block"/>(firstRow, rowCount) over contiguous row blocks of the output, one per task.</summary>
    private static void ForRowBlocks(int m, ComputeContext ctx, Action<int, int> block)
    {
        int tasks = Tasks(m, ctx);
        if (tasks == 1)
        {
            block(0, m);
            return;
        }
        ctx.For(tasks, t =>
        {
            var (r0, rows) = Part(m, tasks, t);
            block(r0, rows);
        });
    }

    /// <summary>C[n, k] += A[m, n]ᵀ · B[m, k]: the weight gradient dW += dYᵀ·X, summed over the m rows.</summary>
    public static void AddAtB(ReadOnlySpan<float> a, int m, int n, ReadOnlySpan<float> b, int k, Span<float> c, ComputeContext ctx)
    {
        if (m == 0 || n == 0 || k == 0) return;
        var at = new float[n * m];
        Transpose(a, m, n, at);
        var product = new float[n * k];
        AB(at, n, m, b, k, product, ctx);
        TensorPrimitives.Add(c[..(n * k)], product, c[..(n * k)]);
    }

    /// <summary>C[m, n] += A[m, k] · B[k, n].</summary>
    public static void AddAB(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> b, int n, Span<float> c, ComputeContext ctx)
    {
        if (m == 0 || n == 0) return;
        var product = new float[m * n];
        AB(a, m, k, b, n, product, ctx);
        TensorPrimitives.Add(c[..(m * n)], product, c[..(m * n)]);
    }

    /// <summary>T[cols, rows] = X[rows, cols]ᵀ, in 32x32 blocks so both sides stay in cache.</summary>
    public static void Transpose(ReadOnlySpan<float> x, int rows, int cols, Span<float> t)
    {
        const int block = 32;
        for (int i0 = 0; i0 < rows; i0 += block)
        {
            int i1 = Math.Min(rows, i0 + block);
            for (int j0 = 0; j0 < cols; j0 += block)
            {
                int j1 = Math.Min(cols, j0 + block);
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++)
                        t[j * rows + i] = x[i * cols + j];
            }
        }
    }

    private static int Tasks(int m, ComputeContext ctx) => Math.Max(1, Math.Min(ctx.Threads, m / MinRowsPerTask));

    private static (int Start, int Rows) Part(int total, int parts, int index)
    {
        int size = total / parts, extra = total % parts;
        return (index * size + Math.Min(index, extra), size + (index < extra ? 1 : 0));
    }
}
