// Matrix products on plain row-major (unpacked, changing) matrices for training: forward, and both backward products.
using System.Numerics.Tensors;
using Semblance.Numerics;

namespace Semblance.Training;

/// <summary>
/// The three products back-propagation needs. A·Bᵀ and A·B on small matrices (similarity logits) use
/// <see cref="Gemm"/>'s single-threaded strided kernels split over row blocks; the backward products of layers
/// (dX = dY·W and dW = dYᵀ·X) run on the packed <see cref="Gemm.Linear(ReadOnlySpan{float}, int, PackedWeight, ReadOnlySpan{float}, Span{float}, ComputeContext)"/>
/// kernel, with the right-hand matrix packed straight from its row-major layout (measured on MiniLM-L6 shapes: the
/// backward products then run at the forward's GFLOPS, 2.0x its time for 2x its work). Every output element is one
/// FMA chain in a fixed order, so results do not depend on the thread count.
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
    /// <remarks>
    /// Runs as <see cref="Gemm.Linear(ReadOnlySpan{float}, int, PackedWeight, ReadOnlySpan{float}, Span{float}, ComputeContext)"/>
    /// with x = Aᵀ [n, m] and the weight Bᵀ [k, m], so the long m (tokens) is the K-blocked depth and the product gets
    /// the packed kernel's L1/L2 blocking and 2-D task split.
    /// </remarks>
    public static void AddAtB(ReadOnlySpan<float> a, int m, int n, ReadOnlySpan<float> b, int k, Span<float> c, ComputeContext ctx) =>
        AtB(a, m, n, b, k, c, accumulate: true, ctx);

    /// <summary>C[n, k] (+)= A[m, n]ᵀ · B[m, k]; without <paramref name="accumulate"/> C is overwritten.</summary>
    public static void AtB(ReadOnlySpan<float> a, int m, int n, ReadOnlySpan<float> b, int k, Span<float> c, bool accumulate, ComputeContext ctx)
    {
        if (n == 0 || k == 0) return;
        if (m == 0)
        {
            if (!accumulate) c[..(n * k)].Clear();
            return;
        }
        var at = Scratch.Transposed(n * m);
        Transpose(a, m, n, at, ctx);
        var packed = Scratch.Pack(b[..(m * k)], k, m);
        if (!accumulate)
        {
            Gemm.Linear(at, n, packed, default, c[..(n * k)], ctx);
            return;
        }
        var product = Scratch.Product(n * k);
        Gemm.Linear(at, n, packed, default, product, ctx);
        AddInPlace(c[..(n * k)], product, ctx);
    }

    /// <summary>C[m, n] += A[m, k] · B[k, n].</summary>
    public static void AddAB(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> b, int n, Span<float> c, ComputeContext ctx)
    {
        if (m == 0 || n == 0 || k == 0) return;
        AddAB(a, m, PackInOut(b, k, n), c, accumulate: true, ctx);
    }

    /// <summary>C[m, n] (+)= A[m, k] · B[k, n] with B given packed as the Linear weight Bᵀ [n, k] (see <see cref="PackInOut"/>).</summary>
    public static void AddAB(ReadOnlySpan<float> a, int m, PackedWeight bt, Span<float> c, bool accumulate, ComputeContext ctx)
    {
        int n = bt.OutFeatures;
        if (m == 0) return;
        if (!accumulate)
        {
            Gemm.Linear(a, m, bt, default, c[..(m * n)], ctx);
            return;
        }
        var product = Scratch.Product(m * n);
        Gemm.Linear(a, m, bt, default, product, ctx);
        AddInPlace(c[..(m * n)], product, ctx);
    }

    /// <summary>
    /// B [in, out] (row-major, the layout of an activation or of a weight used as x·W) packed as the Linear weight
    /// Bᵀ [out, in], so x·B runs on the packed kernel.
    /// </summary>
    public static PackedWeight PackInOut(ReadOnlySpan<float> b, int inFeatures, int outFeatures, PackedWeight? reuse = null) =>
        PackedWeight.PackFromInOut(b[..(inFeatures * outFeatures)], outFeatures, inFeatures, reuse);

    /// <summary>
    /// Per-thread temporaries of the backward products, grown on demand and reused: a step re-packs and transposes
    /// about as many floats as the activations hold, and fresh arrays for them cost page faults and GC work.
    /// Each is valid until the next call of the same kind on the same thread (the products finish before return).
    /// </summary>
    private static class Scratch
    {
        [ThreadStatic] private static float[]? _transposed, _product;
        [ThreadStatic] private static PackedWeight? _pack;

        public static Span<float> Transposed(int length) => Grow(ref _transposed, length);

        public static Span<float> Product(int length) => Grow(ref _product, length);

        public static PackedWeight Pack(ReadOnlySpan<float> bInOut, int outFeatures, int inFeatures) =>
            _pack = PackInOut(bInOut, inFeatures, outFeatures, _pack);

        private static Span<float> Grow(ref float[]? buffer, int length)
        {
            if (buffer is null || buffer.Length < length) buffer = GC.AllocateUninitializedArray<float>(Math.Max(length, (buffer?.Length ?? 0) * 5 / 4));
            return buffer.AsSpan(0, length);
        }
    }

    /// <summary>T[cols, rows] = X[rows, cols]ᵀ, in 16x16 blocks so both sides stay in cache.</summary>
    public static void Transpose(ReadOnlySpan<float> x, int rows, int cols, Span<float> t) => Transpose(x, rows, cols, t, ComputeContext.Single);

    /// <summary>The transpose with column blocks of X (rows of T) split over the context's threads (a copy: any split gives the same result).</summary>
    public static unsafe void Transpose(ReadOnlySpan<float> x, int rows, int cols, Span<float> t, ComputeContext ctx)
    {
        const int block = 16;
        if ((long)rows * cols > x.Length || (long)rows * cols > t.Length) throw new ArgumentException($"Transpose: {rows}x{cols} does not fit the spans");
        fixed (float* px = x)
        fixed (float* pt = t)
        {
            float* sx = px, st = pt;
            int blocks = (cols + block - 1) / block;
            int tasks = Math.Max(1, Math.Min(Math.Min(ctx.Threads, blocks), (int)((long)rows * cols / MinFloatsPerTask)));
            if (tasks == 1) TransposeColumns(sx, rows, cols, st, 0, cols);
            else
                ctx.For(tasks, task =>
                {
                    var (b0, count) = Part(blocks, tasks, task);
                    TransposeColumns(sx, rows, cols, st, b0 * block, Math.Min(cols, (b0 + count) * block));
                });
        }
    }

    private static unsafe void TransposeColumns(float* x, int rows, int cols, float* t, int c0, int c1)
    {
        const int block = 16;
        for (int i0 = 0; i0 < rows; i0 += block)
        {
            int i1 = Math.Min(rows, i0 + block);
            for (int j0 = c0; j0 < c1; j0 += block)
            {
                int j1 = Math.Min(c1, j0 + block);
                for (int i = i0; i < i1; i++)
                {
                    float* src = x + (long)i * cols;
                    for (int j = j0; j < j1; j++) t[(long)j * rows + i] = src[j];
                }
            }
        }
    }

    /// <summary>c += p element-wise, split over the context's threads.</summary>
    private static unsafe void AddInPlace(Span<float> c, ReadOnlySpan<float> p, ComputeContext ctx)
    {
        int tasks = Math.Max(1, Math.Min(ctx.Threads, c.Length / MinFloatsPerTask));
        if (tasks == 1)
        {
            TensorPrimitives.Add(c, p, c);
            return;
        }
        int length = c.Length;
        fixed (float* pc = c)
        fixed (float* pp = p)
        {
            float* xc = pc, xp = pp;
            ctx.For(tasks, task =>
            {
                var (start, count) = Part(length, tasks, task);
                var dst = new Span<float>(xc + start, count);
                TensorPrimitives.Add(dst, new ReadOnlySpan<float>(xp + start, count), dst);
            });
        }
    }

    /// <summary>Floats per task below which a copy or an addition stays on one thread.</summary>
    private const int MinFloatsPerTask = 16384;

    private static int Tasks(int m, ComputeContext ctx) => Math.Max(1, Math.Min(ctx.Threads, m / MinRowsPerTask));

    private static (int Start, int Rows) Part(int total, int parts, int index)
    {
        int size = total / parts, extra = total % parts;
        return (index * size + Math.Min(index, extra), size + (index < extra ? 1 : 0));
    }
}
