// Matrix products used by the encoders: Linear layers (packed weights) and attention (strided views).
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Semblance.Numerics;

/// <summary>
/// Single-precision matrix products. Every output element is one FMA chain over k = 0, 1, ..., K−1 in order,
/// whatever the batch size, the tiling, the SIMD tier or the thread count, so a row's result is bitwise
/// independent of the batch it is computed in and of <see cref="ComputeContext.Threads"/>.
/// </summary>
/// <remarks>
/// Linear blocking (B pre-packed): the output is cut into tasks of up to 96 rows × 6 panels (192 columns) that
/// the context's threads take dynamically. Inside a task, K is walked in blocks of at most 384 (so the encoders'
/// K = 384 and 768... take one or two), and within a K-block each group of up to 12 rows is held in L1
/// (12 × 384 floats = 18 KB) while the task's weight panels (6 × 384 × 32 floats = 288 KB, resident in L2)
/// stream past it. With a single K-block every output tile is written once, final; otherwise partial sums
/// live in y between K-blocks (store and reload are exact, so the chain is unchanged). Bias, residual and
/// activation are applied to each register tile right after its last K-block, while it is still in L1.
/// Measured on Zen 4 (MiniLM shapes, M = 32 × sentence length): this order beat the B-panel-resident order with
/// 256-deep K-blocks by about 5% in the forward pass, where y no longer fits in L2.
/// Every tile also prefetches, one row per step of k, the panel it will need next (the first row group: the next
/// panel; later groups: the next task's), so weights that do not fit in the caches (MiniLM's 42 MB at batch 1)
/// arrive while the previous panel is multiplied instead of stalling the first group (Zen 5, 2026-12-03: about
/// +30% sentences/s at batch 1 and 32 on the real all-MiniLM-L6-v2, loaded machine, interleaved A/B runs).
/// </remarks>
internal static unsafe partial class Gemm
{
    private const int RowsPerTask = 96;
    private const int PanelsPerTask = 6;
    private const int KBlock = 384;

    /// <summary>y[m, out] = x[m, in] · Wᵀ + bias. <paramref name="bias"/> may be empty.</summary>
    public static void Linear(ReadOnlySpan<float> x, int m, PackedWeight w, ReadOnlySpan<float> bias, Span<float> y, ComputeContext ctx) =>
        LinearCore(x, m, w, bias, default, Activation.None, y, ctx);

    /// <summary>y = activation(x · Wᵀ + bias), the activation fused into the product's epilogue.</summary>
    public static void Linear(ReadOnlySpan<float> x, int m, PackedWeight w, ReadOnlySpan<float> bias, Activation activation, Span<float> y, ComputeContext ctx) =>
        LinearCore(x, m, w, bias, default, activation, y, ctx);

    /// <summary>
    /// y = (x · Wᵀ + bias) + residual, with residual [m, out] (a transformer block's skip connection).
    /// <paramref name="residual"/> must not overlap <paramref name="y"/>: y is written before the last K-block.
    /// </summary>
    public static void Linear(ReadOnlySpan<float> x, int m, PackedWeight w, ReadOnlySpan<float> bias, ReadOnlySpan<float> residual, Span<float> y, ComputeContext ctx)
    {
        if (residual.Length < (long)m * w.OutFeatures) throw new ArgumentException($"residual has {residual.Length} values, expected at least {m}x{w.OutFeatures}", nameof(residual));
        LinearCore(x, m, w, bias, residual, Activation.None, y, ctx);
    }

    private static void LinearCore(ReadOnlySpan<float> x, int m, PackedWeight w, ReadOnlySpan<float> bias, ReadOnlySpan<float> residual, Activation activation, Span<float> y, ComputeContext ctx)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(ctx);
        int n = w.OutFeatures, k = w.InFeatures;
        CheckLinear(x, m, k, n, bias, residual, y);
        if (m == 0) return;
        fixed (float* px = x)
        fixed (float* py = y)
        fixed (float* pb = bias)
        fixed (float* pr = residual)
        {
            var job = new LinearJob(Simd.Current, px, m, w, bias.IsEmpty ? null : pb, residual.IsEmpty ? null : pr, activation, py, ctx.Threads);
            if (job.TaskCount == 1) job.Run(0);
            else ctx.For(job.TaskCount, job.Run);
        }
    }

    /// <summary>C[m, n] = alpha · A[m, k] · B[n, k]ᵀ, with row strides lda, ldb, ldc.</summary>
    /// <remarks>
    /// Single-threaded (callers parallelise over heads and sequences). B is transposed 32 rows at a time into a
    /// small per-thread buffer, with alpha folded into that copy: each element is Σₚ a[i,p]·(alpha·b[j,p]), which
    /// equals alpha·(A·Bᵀ) exactly when alpha is a power of two (1/√64 = 1/8) and to float rounding otherwise.
    /// With <paramref name="padColumns"/>, C's rows have room up to the next multiple of 32 columns (ldc and the
    /// length allow it): a last narrow panel is then stored whole, its columns past n holding products with the
    /// zero padding, instead of going through a tile copy.
    /// </remarks>
    public static void MultiplyABt(int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool padColumns = false)
    {
        CheckMatrix(a.Length, m, k, lda, nameof(a));
        CheckMatrix(b.Length, n, k, ldb, nameof(b));
        int padded = (n + MicroKernel.Width - 1) / MicroKernel.Width * MicroKernel.Width;
        CheckMatrix(c.Length, m, padColumns ? padded : n, ldc, nameof(c));
        if (m == 0 || n == 0) return;
        var level = Simd.Current;
        int mr = MicroKernel.MaxRows(level);
        float* pack = Scratch.Get(Math.Max(k, 1) * MicroKernel.Width);
        float* tile = stackalloc float[12 * MicroKernel.Width];
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            for (int j0 = 0; j0 < n; j0 += MicroKernel.Width)
            {
                int width = Math.Min(MicroKernel.Width, n - j0);
                PackTransposed(level, pb + (long)j0 * ldb, ldb, width, k, alpha, pack);
                RowGroups groups = new(m, mr);
                for (int g = 0; g < groups.Count; g++)
                {
                    var (r0, rows) = groups[g];
                    float* dst = pc + (long)r0 * ldc + j0;
                    RunTile(level, rows, pa + (long)r0 * lda, lda, pack, MicroKernel.Width, dst, ldc, padColumns ? MicroKernel.Width : width, k, false, tile);
                }
            }
        }
    }

    /// <summary>pack[p, col] = alpha · b[col, p] for the panel's <paramref name="width"/> rows of B, columns width..31 zero.</summary>
    /// <remarks>
    /// Attention calls this once per (sequence, head) with k = head dim and width = sentence length, so a float at a
    /// time it cost as much as the product: Vector512 takes 16×16 blocks through an in-register transpose instead
    /// (rows past width load as zero, so the padding costs nothing extra). Same products, same bits.
    /// </remarks>
    private static void PackTransposed(SimdLevel level, float* b, nint ldb, int width, int k, float alpha, float* pack)
    {
        const int w = MicroKernel.Width;
        int p0 = 0;
        if (level == SimdLevel.Vector512 && Avx512F.IsSupported)
        {
            var va = Vector512.Create(alpha);
            for (; p0 + 16 <= k; p0 += 16)
            {
                for (int c0 = 0; c0 < w; c0 += 16)
                {
                    int cols = width - c0;
                    float* dst = pack + (long)p0 * w + c0;
                    if (cols <= 0)
                    {
                        for (int i = 0; i < 16; i++) Vector512<float>.Zero.Store(dst + i * w);
                        continue;
                    }
                    Transpose16(b + (long)c0 * ldb + p0, ldb, Math.Min(cols, 16), va, dst, w);
                }
            }
        }
        for (int col = 0; col < width; col++)
        {
            float* src = b + (long)col * ldb;
            for (int p = p0; p < k; p++) pack[p * w + col] = alpha * src[p];
        }
        for (int p = p0; p < k; p++)
            for (int col = width; col < w; col++) pack[p * w + col] = 0f;
    }

    /// <summary>dst[p, i] = alpha · src[i, p] for a 16×16 block; source rows at or past <paramref name="rows"/> read as zero.</summary>
    /// <remarks>The usual four shuffle stages: 32-bit pairs, 64-bit pairs, then 128-bit lanes twice.</remarks>
    private static void Transpose16(float* src, nint lds, int rows, Vector512<float> alpha, float* dst, nint ldd)
    {
        var r0 = Row(0); var r1 = Row(1); var r2 = Row(2); var r3 = Row(3);
        var r4 = Row(4); var r5 = Row(5); var r6 = Row(6); var r7 = Row(7);
        var r8 = Row(8); var r9 = Row(9); var r10 = Row(10); var r11 = Row(11);
        var r12 = Row(12); var r13 = Row(13); var r14 = Row(14); var r15 = Row(15);

        var t0 = Avx512F.UnpackLow(r0, r1); var t1 = Avx512F.UnpackHigh(r0, r1);
        var t2 = Avx512F.UnpackLow(r2, r3); var t3 = Avx512F.UnpackHigh(r2, r3);
        var t4 = Avx512F.UnpackLow(r4, r5); var t5 = Avx512F.UnpackHigh(r4, r5);
        var t6 = Avx512F.UnpackLow(r6, r7); var t7 = Avx512F.UnpackHigh(r6, r7);
        var t8 = Avx512F.UnpackLow(r8, r9); var t9 = Avx512F.UnpackHigh(r8, r9);
        var t10 = Avx512F.UnpackLow(r10, r11); var t11 = Avx512F.UnpackHigh(r10, r11);
        var t12 = Avx512F.UnpackLow(r12, r13); var t13 = Avx512F.UnpackHigh(r12, r13);
        var t14 = Avx512F.UnpackLow(r14, r15); var t15 = Avx512F.UnpackHigh(r14, r15);

        r0 = Lo64(t0, t2); r1 = Hi64(t0, t2); r2 = Lo64(t1, t3); r3 = Hi64(t1, t3);
        r4 = Lo64(t4, t6); r5 = Hi64(t4, t6); r6 = Lo64(t5, t7); r7 = Hi64(t5, t7);
        r8 = Lo64(t8, t10); r9 = Hi64(t8, t10); r10 = Lo64(t9, t11); r11 = Hi64(t9, t11);
        r12 = Lo64(t12, t14); r13 = Hi64(t12, t14); r14 = Lo64(t13, t15); r15 = Hi64(t13, t15);

        t0 = Avx512F.Shuffle4x128(r0, r4, 0x88); t1 = Avx512F.Shuffle4x128(r1, r5, 0x88);
        t2 = Avx512F.Shuffle4x128(r2, r6, 0x88); t3 = Avx512F.Shuffle4x128(r3, r7, 0x88);
        t4 = Avx512F.Shuffle4x128(r0, r4, 0xDD); t5 = Avx512F.Shuffle4x128(r1, r5, 0xDD);
        t6 = Avx512F.Shuffle4x128(r2, r6, 0xDD); t7 = Avx512F.Shuffle4x128(r3, r7, 0xDD);
        t8 = Avx512F.Shuffle4x128(r8, r12, 0x88); t9 = Avx512F.Shuffle4x128(r9, r13, 0x88);
        t10 = Avx512F.Shuffle4x128(r10, r14, 0x88); t11 = Avx512F.Shuffle4x128(r11, r15, 0x88);
        t12 = Avx512F.Shuffle4x128(r8, r12, 0xDD); t13 = Avx512F.Shuffle4x128(r9, r13, 0xDD);
        t14 = Avx512F.Shuffle4x128(r10, r14, 0xDD); t15 = Avx512F.Shuffle4x128(r11, r15, 0xDD);

        Avx512F.Shuffle4x128(t0, t8, 0x88).Store(dst);
        Avx512F.Shuffle4x128(t1, t9, 0x88).Store(dst + ldd);
        Avx512F.Shuffle4x128(t2, t10, 0x88).Store(dst + 2 * ldd);
        Avx512F.Shuffle4x128(t3, t11, 0x88).Store(dst + 3 * ldd);
        Avx512F.Shuffle4x128(t4, t12, 0x88).Store(dst + 4 * ldd);
        Avx512F.Shuffle4x128(t5, t13, 0x88).Store(dst + 5 * ldd);
        Avx512F.Shuffle4x128(t6, t14, 0x88).Store(dst + 6 * ldd);
        Avx512F.Shuffle4x128(t7, t15, 0x88).Store(dst + 7 * ldd);
        Avx512F.Shuffle4x128(t0, t8, 0xDD).Store(dst + 8 * ldd);
        Avx512F.Shuffle4x128(t1, t9, 0xDD).Store(dst + 9 * ldd);
        Avx512F.Shuffle4x128(t2, t10, 0xDD).Store(dst + 10 * ldd);
        Avx512F.Shuffle4x128(t3, t11, 0xDD).Store(dst + 11 * ldd);
        Avx512F.Shuffle4x128(t4, t12, 0xDD).Store(dst + 12 * ldd);
        Avx512F.Shuffle4x128(t5, t13, 0xDD).Store(dst + 13 * ldd);
        Avx512F.Shuffle4x128(t6, t14, 0xDD).Store(dst + 14 * ldd);
        Avx512F.Shuffle4x128(t7, t15, 0xDD).Store(dst + 15 * ldd);

        Vector512<float> Row(int i) => i < rows ? alpha * Vector512.Load(src + i * lds) : Vector512<float>.Zero;
        static Vector512<float> Lo64(Vector512<float> x, Vector512<float> y) => Avx512F.UnpackLow(x.AsDouble(), y.AsDouble()).AsSingle();
        static Vector512<float> Hi64(Vector512<float> x, Vector512<float> y) => Avx512F.UnpackHigh(x.AsDouble(), y.AsDouble()).AsSingle();
    }

    /// <summary>C[m, n] = A[m, k] · B[k, n], with row strides lda, ldb, ldc.</summary>
    /// <remarks>Single-threaded. B's rows are read in place; only a last partial 32-column block is copied, zero-padded.</remarks>
    public static void MultiplyAB(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc)
    {
        CheckMatrix(a.Length, m, k, lda, nameof(a));
        CheckMatrix(b.Length, k, n, ldb, nameof(b));
        CheckMatrix(c.Length, m, n, ldc, nameof(c));
        if (m == 0 || n == 0) return;
        var level = Simd.Current;
        int mr = MicroKernel.MaxRows(level);
        float* tile = stackalloc float[12 * MicroKernel.Width];
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            for (int j0 = 0; j0 < n; j0 += MicroKernel.Width)
            {
                int width = Math.Min(MicroKernel.Width, n - j0);
                float* panel = pb + j0;
                nint ldPanel = ldb;
                if (width < MicroKernel.Width)
                {
                    panel = Scratch.Get(Math.Max(k, 1) * MicroKernel.Width);
                    ldPanel = MicroKernel.Width;
                    for (int p = 0; p < k; p++)
                    {
                        var dst = new Span<float>(panel + p * MicroKernel.Width, MicroKernel.Width);
                        new ReadOnlySpan<float>(pb + (long)p * ldb + j0, width).CopyTo(dst);
                        dst[width..].Clear();
                    }
                }
                RowGroups groups = new(m, mr);
                for (int g = 0; g < groups.Count; g++)
                {
                    var (r0, rows) = groups[g];
                    RunTile(level, rows, pa + (long)r0 * lda, lda, panel, ldPanel, pc + (long)r0 * ldc + j0, ldc, width, k, false, tile);
                }
            }
        }
    }

    /// <summary>
    /// One register tile into C; a tile narrower than the panel goes through <paramref name="tile"/>
    /// (12 × 32 floats) so the kernel never writes past column <paramref name="width"/>.
    /// </summary>
    private static void RunTile(SimdLevel level, int rows, float* a, nint lda, float* b, nint ldb, float* c, nint ldc, int width, int kc, bool accumulate, float* tile, float* prefetch = null)
    {
        if (width == MicroKernel.Width)
        {
            MicroKernel.Tile(level, rows, a, lda, b, ldb, c, ldc, kc, accumulate, prefetch);
            return;
        }
        if (accumulate)
            for (int i = 0; i < rows; i++)
                new ReadOnlySpan<float>(c + i * ldc, width).CopyTo(new Span<float>(tile + i * MicroKernel.Width, width));
        MicroKernel.Tile(level, rows, a, lda, b, ldb, tile, MicroKernel.Width, kc, accumulate);
        for (int i = 0; i < rows; i++)
            new ReadOnlySpan<float>(tile + i * MicroKernel.Width, width).CopyTo(new Span<float>(c + i * ldc, width));
    }

    private static void CheckMatrix(int length, int rows, int cols, int ld, string name)
    {
        if (rows < 0 || cols < 0) throw new ArgumentException($"{name}: negative shape {rows}x{cols}", name);
        if (ld < cols) throw new ArgumentException($"{name}: row stride {ld} is smaller than its {cols} columns", name);
        long need = rows == 0 ? 0 : (long)(rows - 1) * ld + cols;
        if (length < need) throw new ArgumentException($"{name} has {length} values, a {rows}x{cols} matrix with stride {ld} needs {need}", name);
    }

    /// <summary>Splits rows into groups of at most maxRows, as equal as possible (16 rows → 8 + 8, not 12 + 4).</summary>
    private readonly struct RowGroups
    {
        private readonly int _start, _base, _extra;

        public RowGroups(int start, int rows, int maxRows)
        {
            _start = start;
            Count = (rows + maxRows - 1) / maxRows;
            _base = Count == 0 ? 0 : rows / Count;
            _extra = Count == 0 ? 0 : rows % Count;
        }

        public RowGroups(int rows, int maxRows) : this(0, rows, maxRows) { }

        public int Count { get; }

        public (int Start, int Rows) this[int g] =>
            (_start + g * _base + Math.Min(g, _extra), _base + (g < _extra ? 1 : 0));

        /// <summary>Part <paramref name="index"/> of <paramref name="total"/> items cut into <paramref name="parts"/> near-equal parts.</summary>
        public static (int Start, int Rows) Part(int total, int parts, int index)
        {
            int size = total / parts, extra = total % parts;
            return (index * size + Math.Min(index, extra), size + (index < extra ? 1 : 0));
        }
    }

    /// <summary>The epilogue without an activation.</summary>
    private struct Identity : VectorMath.IUnaryOp
    {
        public static Vector512<float> Invoke(Vector512<float> x) => x;
        public static Vector256<float> Invoke(Vector256<float> x) => x;
        public static float Invoke(float x) => x;
    }

    /// <summary>Per-thread packing buffer for the attention products, grown on demand and reused.</summary>
    private static class Scratch
    {
        [ThreadStatic] private static AlignedBuffer? _buffer;

        public static float* Get(int length)
        {
            if (_buffer is null || _buffer.Length < length) _buffer = new AlignedBuffer(Math.Max(length, 64 * MicroKernel.Width));
            return _buffer.Pointer;
        }
    }

    /// <summary>One Linear call: its task grid and the work of one task.</summary>
    private sealed class LinearJob
    {
        private readonly SimdLevel _level;
        private readonly float* _x, _w, _y;
        private readonly int _m, _n, _k, _panels;
        private readonly TaskGrid _grid;
        private readonly TileEpilogue _epilogue;
        private readonly HalfPanels _half;

        public LinearJob(SimdLevel level, float* x, int m, PackedWeight w, float* bias, float* residual, Activation activation, float* y, int threads)
        {
            _level = level;
            _x = x;
            _half = new HalfPanels(level, w);
            _w = _half.IsActive ? null : w.Data.Pointer;
            _y = y;
            _m = m;
            _n = w.OutFeatures;
            _k = w.InFeatures;
            _panels = w.PanelCount;
            _grid = new TaskGrid(m, w.PanelCount, threads);
            _epilogue = new TileEpilogue(level, y, _n, bias, residual, activation);
        }

        public int TaskCount => _grid.TaskCount;

        public void Run(int task)
        {
            var (rowsOfTask, panelsOfTask) = _grid[task];
            RowGroups groups = new(rowsOfTask.Start, rowsOfTask.Rows, MicroKernel.MaxRows(_level));
            float* tile = stackalloc float[12 * MicroKernel.Width];
            int kBlocks = (_k + KBlock - 1) / KBlock;
            int kStep = (_k + kBlocks - 1) / kBlocks;
            for (int pc = 0; pc < _k; pc += kStep)
            {
                int kc = Math.Min(kStep, _k - pc);
                bool first = pc == 0, last = pc + kc == _k;
                float* widened = _half.WidenTask(panelsOfTask.Start, panelsOfTask.Rows, pc, kc);
                for (int g = 0; g < groups.Count; g++)
                {
                    var (r0, rows) = groups[g];
                    // The first row group brings the task's panels in from memory: it prefetches the panel after the
                    // one it multiplies. Later groups find them in L2 and prefetch the next task's panels instead, so
                    // memory stays busy while the weights are reused (batch 1 streams every weight once per call).
                    int ahead = g == 0 ? 1 : panelsOfTask.Rows;
                    for (int j = panelsOfTask.Start; j < panelsOfTask.Start + panelsOfTask.Rows; j++)
                    {
                        float* panel = _w + ((long)j * _k + pc) * MicroKernel.Width;
                        int col = j * MicroKernel.Width;
                        int width = Math.Min(MicroKernel.Width, _n - col);
                        float* c = _y + (long)r0 * _n + col;
                        float* next = j + ahead < _panels ? panel + (long)ahead * _k * MicroKernel.Width : panel;
                        if (_w == null && widened == null) _half.RunTile(rows, _x + (long)r0 * _k + pc, _k, j, ahead, pc, c, _n, width, kc, !first, tile);
                        else if (widened != null) RunTile(_level, rows, _x + (long)r0 * _k + pc, _k, widened + (long)(j - panelsOfTask.Start) * kc * MicroKernel.Width, MicroKernel.Width, c, _n, width, kc, !first, tile);
                        else RunTile(_level, rows, _x + (long)r0 * _k + pc, _k, panel, MicroKernel.Width, c, _n, width, kc, !first, tile, next);
                        if (last) _epilogue.Apply(r0, rows, col, width);
                    }
                }
            }
        }
    }

    /// <summary>
    /// The tasks of one Linear call: up to <see cref="RowsPerTask"/> rows × <see cref="PanelsPerTask"/> panels each,
    /// more column blocks when several threads need enough tasks to finish together. The grid never changes what
    /// an output element is computed from, only who computes it.
    /// </summary>
    private readonly struct TaskGrid
    {
        private readonly int _m, _panels, _rowBlocks, _colBlocks;

        public TaskGrid(int m, int panels, int threads)
        {
            _m = m;
            _panels = panels;
            _rowBlocks = (m + RowsPerTask - 1) / RowsPerTask;
            int colBlocks = (panels + PanelsPerTask - 1) / PanelsPerTask;
            if (threads > 1)
            {
                // Enough tasks that dynamic hand-out evens out the threads' finishing times.
                int wanted = (4 * threads + _rowBlocks - 1) / _rowBlocks;
                colBlocks = Math.Max(colBlocks, Math.Min(wanted, panels));
            }
            _colBlocks = colBlocks;
        }

        public int TaskCount => _rowBlocks * _colBlocks;

        public ((int Start, int Rows) Rows, (int Start, int Rows) Panels) this[int task] =>
            (RowGroups.Part(_m, _rowBlocks, task / _colBlocks), RowGroups.Part(_panels, _colBlocks, task % _colBlocks));
    }

    /// <summary>Bias, residual and activation applied to a finished tile of y while it is still in L1.</summary>
    private readonly struct TileEpilogue
    {
        private readonly SimdLevel _level;
        private readonly float* _y, _bias, _residual;
        private readonly int _n;
        private readonly Activation _activation;

        public TileEpilogue(SimdLevel level, float* y, int n, float* bias, float* residual, Activation activation)
        {
            _level = level;
            _y = y;
            _n = n;
            _bias = bias;
            _residual = residual;
            _activation = activation;
        }

        public void Apply(int r0, int rows, int col, int width)
        {
            if (_bias == null && _residual == null && _activation == Activation.None) return;
            if (width == MicroKernel.Width && _level == SimdLevel.Vector512)
            {
                switch (_activation)
                {
                    case Activation.None: Epilogue512<Identity>(r0, rows, col); return;
                    case Activation.Gelu: Epilogue512<VectorMath.GeluOp>(r0, rows, col); return;
                    case Activation.GeluTanh: Epilogue512<VectorMath.GeluTanhOp>(r0, rows, col); return;
                }
            }
            for (int i = 0; i < rows; i++)
            {
                long offset = (long)(r0 + i) * _n + col;
                float* row = _y + offset;
                if (_bias != null) AddInPlace(_level, row, _bias + col, width);
                if (_residual != null) AddInPlace(_level, row, _residual + offset, width);
                if (_activation != Activation.None)
                {
                    var span = new Span<float>(row, width);
                    VectorMath.Apply(_level, _activation, span, span);
                }
            }
        }

        /// <summary>
        /// The full-width Vector512 epilogue in registers, the activation inlined: per tile row, the same
        /// operations in the same order as the general path ((y + bias) + residual, then the activation), so the
        /// same bits, without a library call per 32 floats (that call cost as much as the activation itself).
        /// </summary>
        private void Epilogue512<TOp>(int r0, int rows, int col) where TOp : struct, VectorMath.IUnaryOp
        {
            bool hasBias = _bias != null, hasResidual = _residual != null;
            var b0 = hasBias ? Vector512.Load(_bias + col) : default;
            var b1 = hasBias ? Vector512.Load(_bias + col + 16) : default;
            for (int i = 0; i < rows; i++)
            {
                long offset = (long)(r0 + i) * _n + col;
                float* row = _y + offset;
                var v0 = Vector512.Load(row);
                var v1 = Vector512.Load(row + 16);
                if (hasBias)
                {
                    v0 += b0;
                    v1 += b1;
                }
                if (hasResidual)
                {
                    v0 += Vector512.Load(_residual + offset);
                    v1 += Vector512.Load(_residual + offset + 16);
                }
                TOp.Invoke(v0).Store(row);
                TOp.Invoke(v1).Store(row + 16);
            }
        }

        /// <summary>dst += src over one tile row; a call per 32 floats, so no span or library-call overhead on the full-width path.</summary>
        private static void AddInPlace(SimdLevel level, float* dst, float* src, int width)
        {
            if (width == MicroKernel.Width && level == SimdLevel.Vector512)
            {
                (Vector512.Load(dst) + Vector512.Load(src)).Store(dst);
                (Vector512.Load(dst + 16) + Vector512.Load(src + 16)).Store(dst + 16);
            }
            else if (width == MicroKernel.Width && level == SimdLevel.Vector256)
            {
                for (int j = 0; j < MicroKernel.Width; j += 8) (Vector256.Load(dst + j) + Vector256.Load(src + j)).Store(dst + j);
            }
            else
            {
                for (int j = 0; j < width; j++) dst[j] += src[j];
            }
        }
    }
}
