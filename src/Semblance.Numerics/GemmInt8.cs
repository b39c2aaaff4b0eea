// Linear layers on int8 weights: dynamic per-row activation quantisation, exact int32 products, float epilogue.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Semblance.Numerics;

internal static unsafe partial class Gemm
{
    [ThreadStatic] private static Int8Kernel? _forcedInt8;
    [ThreadStatic] private static byte[]? _activationCodes;
    [ThreadStatic] private static float[]? _activationScales;
    [ThreadStatic] private static int[]? _zeroPoints;
    [ThreadStatic] private static int[]? _outlierIndex;
    [ThreadStatic] private static float[]? _outlierValue;

    /// <summary>y[m, out] = x[m, in] · Wᵀ + bias with W quantised (<see cref="QuantizedWeight"/>) and each row of x
    /// quantised on the fly to asymmetric uint8 with its own scale and zero point (<see cref="RowQuantizer"/>).</summary>
    /// <remarks>
    /// y[i, j] = float(Σₖ u[i,k]·q[j,k] − z[i]·Σₖ q[j,k]) · (sa[i] · sw[j]), then with row outliers (x[i, c] taken
    /// out of the codes) + (Σ_c x[i, c]·q[j, c]) · sw[j] in float32, + bias[j] (+ residual) then the activation, as in float32
    /// (<see cref="Linear(ReadOnlySpan{float}, int, PackedWeight, ReadOnlySpan{float}, Span{float}, ComputeContext)"/>).
    /// A row's codes and scale depend on that row alone and the integer sum is exact, so the determinism rule of
    /// the float32 product holds: a row's result is bitwise the same whatever the batch, tiling, tier or thread count.
    /// </remarks>
    public static void Linear(ReadOnlySpan<float> x, int m, QuantizedWeight w, ReadOnlySpan<float> bias, Span<float> y, ComputeContext ctx) =>
        LinearInt8(x, m, w, bias, default, Activation.None, y, ctx);

    /// <summary>y = activation(x · Wᵀ + bias) on int8 weights, the activation fused into the epilogue.</summary>
    public static void Linear(ReadOnlySpan<float> x, int m, QuantizedWeight w, ReadOnlySpan<float> bias, Activation activation, Span<float> y, ComputeContext ctx) =>
        LinearInt8(x, m, w, bias, default, activation, y, ctx);

    /// <summary>y = (x · Wᵀ + bias) + residual on int8 weights; <paramref name="residual"/> must not overlap y.</summary>
    public static void Linear(ReadOnlySpan<float> x, int m, QuantizedWeight w, ReadOnlySpan<float> bias, ReadOnlySpan<float> residual, Span<float> y, ComputeContext ctx)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (residual.Length < (long)m * w.OutFeatures) throw new ArgumentException($"residual has {residual.Length} values, expected at least {m}x{w.OutFeatures}", nameof(residual));
        LinearInt8(x, m, w, bias, residual, Activation.None, y, ctx);
    }

    /// <summary>Restricts this thread's int8 products to <paramref name="kernel"/> (tests compare tiers with it).</summary>
    internal static Int8Scope ForceInt8(Int8Kernel kernel)
    {
        if (!Int8MicroKernel.IsSupported(kernel)) throw new PlatformNotSupportedException($"int8 kernel {kernel} is not supported here");
        var previous = _forcedInt8;
        _forcedInt8 = kernel;
        return new Int8Scope(previous);
    }

    internal readonly struct Int8Scope(Int8Kernel? previous) : IDisposable
    {
        public void Dispose() => _forcedInt8 = previous;
    }

    private static void LinearInt8(ReadOnlySpan<float> x, int m, QuantizedWeight w, ReadOnlySpan<float> bias, ReadOnlySpan<float> residual, Activation activation, Span<float> y, ComputeContext ctx)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(ctx);
        int n = w.OutFeatures, k = w.InFeatures;
        CheckLinear(x, m, k, n, bias, residual, y);
        if (m == 0) return;
        var level = Simd.Current;
        var kernel = _forcedInt8 ?? Int8MicroKernel.For(level);
        int stride = w.Quads * Int8MicroKernel.ActivationBytesPerQuad(kernel);
        if (_activationCodes is null || _activationCodes.Length < (long)m * stride)
            _activationCodes = GC.AllocateUninitializedArray<byte>(checked(Math.Max(m * stride, 1 << 16)), pinned: true);
        if (_activationScales is null || _activationScales.Length < m)
            _activationScales = GC.AllocateUninitializedArray<float>(Math.Max(m, 1024), pinned: true);
        if (_zeroPoints is null || _zeroPoints.Length < m)
            _zeroPoints = GC.AllocateUninitializedArray<int>(Math.Max(m, 1024), pinned: true);
        int outliers = Math.Max(w.RowOutliers, 1);
        if (_outlierIndex is null || _outlierIndex.Length < (long)m * outliers)
        {
            _outlierIndex = GC.AllocateUninitializedArray<int>(checked(Math.Max(m * outliers, 1024)), pinned: true);
            _outlierValue = GC.AllocateUninitializedArray<float>(_outlierIndex.Length, pinned: true);
        }
        fixed (float* px = x)
        fixed (float* py = y)
        fixed (float* pb = bias)
        fixed (float* pr = residual)
        fixed (byte* codes = _activationCodes)
        fixed (float* scales = _activationScales)
        fixed (int* zeroPoints = _zeroPoints)
        fixed (int* outlierIndex = _outlierIndex)
        fixed (float* outlierValue = _outlierValue)
        {
            var job = new Int8Job(level, kernel, px, m, w, codes, stride, scales, zeroPoints, outlierIndex, outlierValue, bias.IsEmpty ? null : pb, residual.IsEmpty ? null : pr, activation, py, ctx.Threads);
            if (job.TaskCount == 1 && job.QuantizeParts == 1)
            {
                job.Quantize(0);
                job.Run(0);
            }
            else
            {
                ctx.For(job.QuantizeParts, job.Quantize);
                ctx.For(job.TaskCount, job.Run);
            }
        }
    }

    /// <summary>The argument checks both Linear products share.</summary>
    private static void CheckLinear(ReadOnlySpan<float> x, int m, int k, int n, ReadOnlySpan<float> bias, ReadOnlySpan<float> residual, Span<float> y)
    {
        if (m < 0) throw new ArgumentOutOfRangeException(nameof(m), m, "m must not be negative");
        if (x.Length < (long)m * k) throw new ArgumentException($"x has {x.Length} values, expected at least {m}x{k}", nameof(x));
        if (y.Length < (long)m * n) throw new ArgumentException($"y has {y.Length} values, expected at least {m}x{n}", nameof(y));
        if (!bias.IsEmpty && bias.Length != n) throw new ArgumentException($"bias has {bias.Length} values, expected {n}", nameof(bias));
        if (m == 0) return;
        var yUsed = y[..(m * n)];
        if (x[..(m * k)].Overlaps(yUsed)) throw new ArgumentException("x and y must not overlap", nameof(y));
        if (!residual.IsEmpty && residual[..(m * n)].Overlaps(yUsed)) throw new ArgumentException("residual and y must not overlap", nameof(residual));
    }

    /// <summary>One int8 Linear call: row quantisation in parts, then the float32 product's task grid and epilogue.</summary>
    private sealed class Int8Job
    {
        private readonly SimdLevel _level;
        private readonly Int8Kernel _kernel;
        private readonly float* _x, _y, _activationScales, _weightScales, _inputMultipliers, _outlierValue;
        private readonly byte* _codes;
        private readonly sbyte* _w, _columnCodes;
        private readonly int* _columnSums, _zeroPoints, _outlierIndex;
        private readonly int _m, _n, _k, _quads, _stride, _outliers, _columnStride;
        private readonly TaskGrid _grid;
        private readonly TileEpilogue _epilogue;

        public Int8Job(SimdLevel level, Int8Kernel kernel, float* x, int m, QuantizedWeight w, byte* codes, int stride, float* activationScales, int* zeroPoints,
            int* outlierIndex, float* outlierValue, float* bias, float* residual, Activation activation, float* y, int threads)
        {
            _level = level;
            _kernel = kernel;
            _x = x;
            _y = y;
            _m = m;
            _n = w.OutFeatures;
            _k = w.InFeatures;
            _quads = w.Quads;
            _stride = stride;
            _codes = codes;
            _activationScales = activationScales;
            _zeroPoints = zeroPoints;
            _outliers = w.RowOutliers;
            _outlierIndex = outlierIndex;
            _outlierValue = outlierValue;
            _columnCodes = w.ColumnCodes is { } cc ? cc.Pointer : null;
            _columnStride = w.PanelCount * Int8MicroKernel.Width;
            _w = w.Data.Pointer;
            _weightScales = w.Scales.Pointer;
            _columnSums = w.ColumnSums.Pointer;
            _inputMultipliers = w.InputMultipliers is { } multipliers ? multipliers.Pointer : null;
            _grid = new TaskGrid(m, w.PanelCount, threads);
            _epilogue = new TileEpilogue(level, y, _n, bias, residual, activation);
            QuantizeParts = threads > 1 ? Math.Min(m, 4 * threads) : 1;
        }

        public int TaskCount => _grid.TaskCount;

        public int QuantizeParts { get; }

        public void Quantize(int part)
        {
            var (start, rows) = RowGroups.Part(_m, QuantizeParts, part);
            bool copy = _inputMultipliers != null || _outliers > 0;
            Span<float> smoothed = !copy ? default : _k <= 4096 ? stackalloc float[_k] : new float[_k];
            for (int i = start; i < start + rows; i++)
            {
                float* row = _x + (long)i * _k;
                if (copy)
                {
                    // x[k] / s[k] as x[k] · (1/s[k]): one rounding per element, the same in every tier (TensorPrimitives is element-wise).
                    if (_inputMultipliers != null)
                        System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(row, _k), new ReadOnlySpan<float>(_inputMultipliers, _k), smoothed);
                    else new ReadOnlySpan<float>(row, _k).CopyTo(smoothed);
                    if (_outliers > 0) RowQuantizer.TakeOutliers(smoothed, _outliers, _outlierIndex + (long)i * _outliers, _outlierValue + (long)i * _outliers);
                    fixed (float* p = smoothed) QuantizeRow(i, p);
                    continue;
                }
                QuantizeRow(i, row);
            }
        }

        private void QuantizeRow(int i, float* row)
        {
            _activationScales[i] = RowQuantizer.ActivationScale(new ReadOnlySpan<float>(row, _k), out float inverse, out int zeroPoint);
            _zeroPoints[i] = zeroPoint;
            byte* dst = _codes + (long)i * _stride;
            if (_kernel == Int8Kernel.Vnni256) RowQuantizer.Unsigned8(row, _k, inverse, zeroPoint, dst, 4 * _quads);
            else RowQuantizer.Unsigned16(row, _k, inverse, zeroPoint, (short*)dst, 4 * _quads);
        }

        public void Run(int task)
        {
            var (rowsOfTask, panelsOfTask) = _grid[task];
            RowGroups groups = new(rowsOfTask.Start, rowsOfTask.Rows, Int8MicroKernel.MaxRows(_kernel));
            int* tile = stackalloc int[6 * Int8MicroKernel.Width];
            for (int g = 0; g < groups.Count; g++)
            {
                var (r0, rows) = groups[g];
                for (int j = panelsOfTask.Start; j < panelsOfTask.Start + panelsOfTask.Rows; j++)
                {
                    sbyte* panel = _w + (long)j * _quads * 4 * Int8MicroKernel.Width;
                    int col = j * Int8MicroKernel.Width;
                    int width = Math.Min(Int8MicroKernel.Width, _n - col);
                    Int8MicroKernel.Tile(_kernel, rows, _codes + (long)r0 * _stride, _stride, panel, _quads, tile);
                    Dequantize(tile, r0, rows, col, width);
                    _epilogue.Apply(r0, rows, col, width);
                }
            }
        }

        /// <summary>y[i, j] = float(sum − z[i]·Σq[j]) · (sa[i] · sw[j]), then fma(Σ_c x[i, c]·q[j, c], sw[j], y) over
        /// the row's outliers in index order; the same operations on every lane and tier.</summary>
        private void Dequantize(int* tile, int r0, int rows, int col, int width)
        {
            float* sw = _weightScales + col;
            int* sums = _columnSums + col;
            int outliers = _outliers;
            sbyte** columns = stackalloc sbyte*[Math.Max(outliers, 1)];
            for (int i = 0; i < rows; i++)
            {
                int* acc = tile + i * Int8MicroKernel.Width;
                float sa = _activationScales[r0 + i];
                int zp = _zeroPoints[r0 + i];
                float* ov = _outlierValue + (long)(r0 + i) * outliers;
                for (int c = 0; c < outliers; c++) columns[c] = _columnCodes + (long)_outlierIndex[(long)(r0 + i) * outliers + c] * _columnStride + col;
                float* dst = _y + (long)(r0 + i) * _n + col;
                if (width == Int8MicroKernel.Width && Vector512.IsHardwareAccelerated)
                {
                    var vsa = Vector512.Create(sa);
                    for (int j = 0; j < Int8MicroKernel.Width; j += 16)
                    {
                        var vsw = Vector512.Load(sw + j);
                        var v = Vector512.ConvertToSingle(Vector512.Load(acc + j) - Vector512.Load(sums + j) * zp) * (vsa * vsw);
                        if (outliers > 0)
                        {
                            var extra = Vector512<float>.Zero;
                            for (int c = 0; c < outliers; c++)
                                extra = Vector512.FusedMultiplyAdd(Vector512.Create(ov[c]), Vector512.ConvertToSingle(Avx512F.ConvertToVector512Int32(Vector128.Load(columns[c] + j))), extra);
                            v = Vector512.FusedMultiplyAdd(extra, vsw, v);
                        }
                        v.Store(dst + j);
                    }
                    continue;
                }
                for (int j = 0; j < width; j++)
                {
                    float v = (acc[j] - sums[j] * zp) * (sa * sw[j]);
                    if (outliers > 0)
                    {
                        float extra = 0f;
                        for (int c = 0; c < outliers; c++) extra = MathF.FusedMultiplyAdd(ov[c], columns[c][j], extra);
                        v = MathF.FusedMultiplyAdd(extra, sw[j], v);
                    }
                    dst[j] = v;
                }
            }
        }
    }
}
