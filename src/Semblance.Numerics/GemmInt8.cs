// Linear layers on int8 weights: dynamic per-row activation quantisation, exact int32 products, float epilogue.
using System.Runtime.Intrinsics;

namespace Semblance.Numerics;

internal static unsafe partial class Gemm
{
    [ThreadStatic] private static Int8Kernel? _forcedInt8;
    [ThreadStatic] private static byte[]? _activationCodes;
    [ThreadStatic] private static float[]? _activationScales;

    /// <summary>y[m, out] = x[m, in] · Wᵀ + bias with W quantised (<see cref="QuantizedWeight"/>) and each row of x
    /// quantised on the fly to symmetric int8 with its own scale.</summary>
    /// <remarks>
    /// y[i, j] = float(Σₖ a[i,k]·q[j,k]) · (sa[i] · sw[j]) + bias[j] (+ residual) then the activation, as in float32
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
        fixed (float* px = x)
        fixed (float* py = y)
        fixed (float* pb = bias)
        fixed (float* pr = residual)
        fixed (byte* codes = _activationCodes)
        fixed (float* scales = _activationScales)
        {
            var job = new Int8Job(level, kernel, px, m, w, codes, stride, scales, bias.IsEmpty ? null : pb, residual.IsEmpty ? null : pr, activation, py, ctx.Threads);
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
        private readonly float* _x, _y, _activationScales, _weightScales, _inputMultipliers;
        private readonly byte* _codes;
        private readonly sbyte* _w;
        private readonly int* _columnSums;
        private readonly int _m, _n, _k, _quads, _stride;
        private readonly TaskGrid _grid;
        private readonly TileEpilogue _epilogue;

        public Int8Job(SimdLevel level, Int8Kernel kernel, float* x, int m, QuantizedWeight w, byte* codes, int stride, float* activationScales,
            float* bias, float* residual, Activation activation, float* y, int threads)
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
            Span<float> smoothed = _inputMultipliers == null ? default : _k <= 4096 ? stackalloc float[_k] : new float[_k];
            for (int i = start; i < start + rows; i++)
            {
                float* row = _x + (long)i * _k;
                if (_inputMultipliers != null)
                {
                    // x[k] / s[k] as x[k] · (1/s[k]): one rounding per element, the same in every tier (TensorPrimitives is element-wise).
                    System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(row, _k), new ReadOnlySpan<float>(_inputMultipliers, _k), smoothed);
                    fixed (float* p = smoothed) QuantizeRow(i, p);
                    continue;
                }
                QuantizeRow(i, row);
            }
        }

        private void QuantizeRow(int i, float* row)
        {
            _activationScales[i] = RowQuantizer.Scale(new ReadOnlySpan<float>(row, _k), out float inverse);
            byte* dst = _codes + (long)i * _stride;
            if (_kernel == Int8Kernel.Vnni256) RowQuantizer.Biased(row, _k, inverse, dst, 4 * _quads);
            else RowQuantizer.Signed16(row, _k, inverse, (short*)dst, 4 * _quads);
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

        /// <summary>y[i, j] = float(sum − correction[j]) · (sa[i] · sw[j]); the same operations on every lane and tier.</summary>
        private void Dequantize(int* tile, int r0, int rows, int col, int width)
        {
            bool biased = _kernel == Int8Kernel.Vnni256;
            float* sw = _weightScales + col;
            int* sums = _columnSums + col;
            for (int i = 0; i < rows; i++)
            {
                int* acc = tile + i * Int8MicroKernel.Width;
                float sa = _activationScales[r0 + i];
                float* dst = _y + (long)(r0 + i) * _n + col;
                int j = 0;
                if (width == Int8MicroKernel.Width && Vector512.IsHardwareAccelerated)
                {
                    var vsa = Vector512.Create(sa);
                    for (; j < Int8MicroKernel.Width; j += 16)
                    {
                        var v = Vector512.Load(acc + j);
                        if (biased) v -= Vector512.Load(sums + j) * 128;
                        (Vector512.ConvertToSingle(v) * (vsa * Vector512.Load(sw + j))).Store(dst + j);
                    }
                    continue;
                }
                for (; j < width; j++)
                {
                    int v = acc[j] - (biased ? sums[j] * 128 : 0);
                    dst[j] = v * (sa * sw[j]);
                }
            }
        }
    }
}
