// A Linear layer's weight quantised to int8 per output channel, packed once for the int8 GEMM micro-kernels.
using System.Runtime.Intrinsics;

namespace Semblance.Numerics;

/// <summary>
/// Weight of y = x·Wᵀ (+ b), W given as [outFeatures, inFeatures], stored as symmetric int8 with one scale per
/// output channel: W[o, k] ≈ scale[o] · q[o, k], q in [−127, 127], scale[o] = max_k |W[o, k]| / 127.
/// </summary>
/// <remarks>
/// Layout: panels of 32 output channels (as <see cref="PackedWeight"/>); inside a panel, K is cut into quads of
/// 4 (the last zero-padded) and quad p holds, for each of the 32 channels in turn, its 4 bytes q[o, 4p..4p+3]:
/// 128 bytes per quad, so a 256-bit load is 8 channels × 4 k, the operand of one vpdpbusd (AVX-VNNI), and a
/// sign-extended 256-bit half of it the operand of one vpmaddwd. <see cref="ColumnSums"/> holds Σ_k q[o, k]
/// for the unsigned-activation kernels' correction.
/// </remarks>
internal sealed class QuantizedWeight
{
    internal const int PanelWidth = 32;

    /// <summary>The most entries per activation row that <see cref="Quantize"/>'s rowOutliers may take out of the codes.</summary>
    internal const int MaxRowOutliers = 16;

    private QuantizedWeight(int outFeatures, int inFeatures, AlignedBuffer<sbyte> data, AlignedBuffer<float> scales, AlignedBuffer<int> columnSums,
        AlignedBuffer<float>? inputMultipliers, int rowOutliers, AlignedBuffer<sbyte>? columnCodes)
    {
        InputMultipliers = inputMultipliers;
        RowOutliers = rowOutliers;
        ColumnCodes = columnCodes;
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        Data = data;
        Scales = scales;
        ColumnSums = columnSums;
    }

    public int OutFeatures { get; }
    public int InFeatures { get; }

    /// <summary>Bytes held: codes (twice with row outliers), scales, column sums and smoothing multipliers.</summary>
    public long Bytes => Data.Length + (ColumnCodes?.Length ?? 0) + 4L * Scales.Length + 4L * ColumnSums.Length + 4L * (InputMultipliers?.Length ?? 0);

    /// <summary>1/s[k] for a smoothed weight (each input is multiplied by it before the row is quantised); null when not smoothed.</summary>
    internal AlignedBuffer<float>? InputMultipliers { get; }

    /// <summary>How many of each activation row's largest |x| are kept in float32 instead of setting the row's step (0 = none).</summary>
    internal int RowOutliers { get; }

    /// <summary>With <see cref="RowOutliers"/>: the codes again, input-major, q[o, k] at <c>k · PanelCount · 32 + o</c>
    /// (zero past OutFeatures), so an outlier's column of the weight is one contiguous run.</summary>
    internal AlignedBuffer<sbyte>? ColumnCodes { get; }

    internal int Quads => (InFeatures + 3) / 4;
    internal int PanelCount => (OutFeatures + PanelWidth - 1) / PanelWidth;

    internal AlignedBuffer<sbyte> Data { get; }

    /// <summary>Per-channel scales, zero past <see cref="OutFeatures"/>.</summary>
    internal AlignedBuffer<float> Scales { get; }

    internal AlignedBuffer<int> ColumnSums { get; }

    /// <param name="inputSmoothing">Optional per-input factors s[k] &gt; 0 (SmoothQuant's migration): the weight's
    /// column k is quantised as W[:, k]·s[k] and every activation row as x[k]/s[k] (the product is unchanged), which
    /// moves an input channel's outlier range from the activation codes, shared by the whole row, into the weight,
    /// where each output channel has its own scale. Empty = none.</param>
    /// <param name="rowOutliers">Per activation row, how many of its largest-magnitude entries to take out of the
    /// codes (LLM.int8()'s decomposition, chosen per row so a row's result still depends on that row only): they
    /// no longer set the row's step, and the product adds x[i, c] · q[j, c] for each in float32, scaled by sw[j].</param>
    public static QuantizedWeight Quantize(ReadOnlySpan<float> weightOutIn, int outFeatures, int inFeatures, ReadOnlySpan<float> inputSmoothing = default,
        int rowOutliers = 0)
    {
        if (!inputSmoothing.IsEmpty && inputSmoothing.Length != inFeatures)
            throw new ArgumentException($"input smoothing has {inputSmoothing.Length} values, expected {inFeatures}", nameof(inputSmoothing));
        foreach (var f in inputSmoothing)
            if (!(f > 0) || !float.IsFinite(f)) throw new ArgumentException($"input smoothing factors must be positive and finite, got {f}", nameof(inputSmoothing));
        if (outFeatures < 1 || inFeatures < 1)
            throw new ArgumentException($"weight shape must be positive, got {outFeatures}x{inFeatures}");
        if (rowOutliers < 0 || rowOutliers > MaxRowOutliers)
            throw new ArgumentOutOfRangeException(nameof(rowOutliers), rowOutliers, $"row outliers must be in [0, {MaxRowOutliers}]");
        if (weightOutIn.Length != checked(outFeatures * inFeatures))
            throw new ArgumentException($"weight has {weightOutIn.Length} values, expected {outFeatures}x{inFeatures}");
        rowOutliers = Math.Min(rowOutliers, inFeatures);
        int panels = (outFeatures + PanelWidth - 1) / PanelWidth, quads = (inFeatures + 3) / 4;
        var data = new AlignedBuffer<sbyte>(checked(panels * quads * 4 * PanelWidth));
        var scales = new AlignedBuffer<float>(panels * PanelWidth);
        var sums = new AlignedBuffer<int>(panels * PanelWidth);
        var columnCodes = rowOutliers == 0 ? null : new AlignedBuffer<sbyte>(checked(inFeatures * panels * PanelWidth));
        var dst = data.Span;
        dst.Clear();
        scales.Span.Clear();
        sums.Span.Clear();
        columnCodes?.Span.Clear();
        var codes = new int[inFeatures];
        var smoothed = inputSmoothing.IsEmpty ? null : new float[inFeatures];
        for (int o = 0; o < outFeatures; o++)
        {
            var row = weightOutIn.Slice(o * inFeatures, inFeatures);
            if (smoothed is not null)
            {
                for (int i = 0; i < inFeatures; i++) smoothed[i] = row[i] * inputSmoothing[i];
                row = smoothed;
            }
            float scale = RowQuantizer.Scale(row, out float inverse);
            int sum = 0;
            for (int i = 0; i < inFeatures; i++) sum += codes[i] = RowQuantizer.Code(row[i], inverse);
            scales.Span[o] = scale;
            sums.Span[o] = sum;
            int panel = o / PanelWidth, lane = o % PanelWidth;
            for (int i = 0; i < inFeatures; i++)
                dst[((panel * quads + i / 4) * PanelWidth + lane) * 4 + i % 4] = (sbyte)codes[i];
            if (columnCodes is not null)
                for (int i = 0; i < inFeatures; i++) columnCodes.Span[i * panels * PanelWidth + o] = (sbyte)codes[i];
        }
        AlignedBuffer<float>? multipliers = null;
        if (!inputSmoothing.IsEmpty)
        {
            multipliers = new AlignedBuffer<float>(inFeatures);
            for (int i = 0; i < inFeatures; i++) multipliers.Span[i] = 1f / inputSmoothing[i];
        }
        return new QuantizedWeight(outFeatures, inFeatures, data, scales, sums, multipliers, rowOutliers, columnCodes);
    }

    /// <summary>Writes scale[o] · q[o, k] / s[k], the weight this quantisation stands for, in [outFeatures, inFeatures] layout.</summary>
    public void Dequantize(Span<float> weightOutIn)
    {
        if (weightOutIn.Length != OutFeatures * InFeatures)
            throw new ArgumentException($"destination has {weightOutIn.Length} values, expected {OutFeatures}x{InFeatures}", nameof(weightOutIn));
        var src = Data.Span;
        for (int o = 0; o < OutFeatures; o++)
        {
            int panel = o / PanelWidth, lane = o % PanelWidth;
            for (int i = 0; i < InFeatures; i++)
            {
                float v = Scales.Span[o] * src[((panel * Quads + i / 4) * PanelWidth + lane) * 4 + i % 4];
                weightOutIn[o * InFeatures + i] = InputMultipliers is null ? v : v * InputMultipliers.Span[i];
            }
        }
    }
}

/// <summary>
/// Row quantisation. Weights: symmetric int8, scale = max|x| / 127, code = round-half-even(x · 127 / max|x|) clamped
/// to ±127. Activations: asymmetric uint8 per row over [lo, hi] = [min(min x, 0), max(max x, 0)], scale =
/// (hi − lo) / 255, zero point z = round-half-even(−lo · 255 / (hi − lo)), code = round-half-even(x · 255 / (hi − lo))
/// + z clamped to [0, 255], so x ≈ scale · (code − z): one-sided rows (GELU outputs, a LayerNorm output with one
/// large negative channel) get up to twice the resolution of symmetric codes. One definition each, in scalar and
/// vector code alike, so a row's codes never depend on the tier or on the other rows.
/// </summary>
internal static unsafe class RowQuantizer
{
    /// <summary>Scale of <paramref name="row"/> (weights); a row holding NaN or ±Inf gets a NaN scale (its outputs
    /// come out NaN, as in float32) and zero codes; an all-zero row scale 0.</summary>
    public static float Scale(ReadOnlySpan<float> row, out float inverse)
    {
        if (!Bounds(row, out float lo, out float hi))
        {
            inverse = 0f;
            return float.NaN;
        }
        float max = Math.Max(-lo, hi);
        if (max == 0f)
        {
            inverse = 0f;
            return 0f;
        }
        inverse = 127f / max;
        return max / 127f;
    }

    /// <summary>Scale and zero point of an activation row (asymmetric uint8); NaN or ±Inf gives a NaN scale and
    /// code-0 rows, an all-zero row scale 0 and zero point 0.</summary>
    public static float ActivationScale(ReadOnlySpan<float> row, out float inverse, out int zeroPoint)
    {
        zeroPoint = 0;
        inverse = 0f;
        if (!Bounds(row, out float lo, out float hi)) return float.NaN;
        float range = hi - lo;
        if (range == 0f) return 0f;
        inverse = 255f / range;
        zeroPoint = (int)Math.Clamp(MathF.Round(-lo * inverse), 0f, 255f);
        return range / 255f;
    }

    /// <summary>[min(min x, 0), max(max x, 0)]; false when the row holds NaN or ±Inf.</summary>
    private static bool Bounds(ReadOnlySpan<float> row, out float lo, out float hi)
    {
        float min = 0f, max = 0f, poison = 0f;
        int i = 0;
        if (Vector512.IsHardwareAccelerated && row.Length >= 16)
        {
            var vmin = Vector512<float>.Zero;
            var vmax = Vector512<float>.Zero;
            var vpoison = Vector512<float>.Zero;
            for (; i + 16 <= row.Length; i += 16)
            {
                var v = Vector512.Create(row.Slice(i, 16));
                vmin = Vector512.Min(vmin, v);
                vmax = Vector512.Max(vmax, v);
                vpoison += v - v;
            }
            for (int j = 0; j < Vector512<float>.Count; j++)
            {
                min = Math.Min(min, vmin[j]);
                max = Math.Max(max, vmax[j]);
            }
            poison = Vector512.Sum(vpoison);
        }
        for (; i < row.Length; i++)
        {
            min = Math.Min(min, row[i]);
            max = Math.Max(max, row[i]);
            poison += row[i] - row[i];
        }
        lo = min;
        hi = max;
        return float.IsFinite(poison) && float.IsFinite(min) && float.IsFinite(max);
    }

    /// <summary>
    /// Moves the <paramref name="count"/> entries of largest magnitude out of <paramref name="row"/> (set to 0 there;
    /// ties to the lower index; NaN and ±Inf are never taken, so they still poison the row's scale) into
    /// <paramref name="index"/>/<paramref name="value"/>, ascending by index. Fewer nonzero finite entries than
    /// <paramref name="count"/> leave the rest as index 0, value 0.
    /// </summary>
    public static void TakeOutliers(Span<float> row, int count, int* index, float* value)
    {
        var top = stackalloc int[count];
        var mag = stackalloc float[count];
        for (int t = 0; t < count; t++)
        {
            top[t] = 0;
            mag[t] = 0f;
        }
        int k = 0;
        fixed (float* p = row)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                // Only lanes above the current count-th largest can enter; they are offered in index order, as below.
                for (; k + 16 <= row.Length; k += 16)
                {
                    ulong above = Vector512.GreaterThan(Vector512.Abs(Vector512.Load(p + k)), Vector512.Create(mag[count - 1])).ExtractMostSignificantBits();
                    while (above != 0)
                    {
                        int lane = System.Numerics.BitOperations.TrailingZeroCount(above);
                        above &= above - 1;
                        Offer(k + lane, Math.Abs(p[k + lane]), top, mag, count);
                    }
                }
            }
            for (; k < row.Length; k++) Offer(k, Math.Abs(p[k]), top, mag, count);
        }
        int taken = 0;
        while (taken < count && mag[taken] > 0) taken++;
        new Span<int>(top, taken).Sort();
        for (int t = 0; t < count; t++)
        {
            index[t] = t < taken ? top[t] : 0;
            value[t] = t < taken ? row[top[t]] : 0f;
        }
        for (int t = 0; t < taken; t++) row[top[t]] = 0f;

        static void Offer(int k, float a, int* top, float* mag, int count)
        {
            if (!(a > mag[count - 1]) || !float.IsFinite(a)) return;
            int t = count - 1;
            for (; t > 0 && a > mag[t - 1]; t--)
            {
                mag[t] = mag[t - 1];
                top[t] = top[t - 1];
            }
            mag[t] = a;
            top[t] = k;
        }
    }

    public static int Code(float x, float inverse) => (int)Math.Clamp(MathF.Round(x * inverse), -127f, 127f);

    /// <summary>An activation code: round-half-even(x · inverse) + z clamped to [0, 255].</summary>
    public static int ActivationCode(float x, float inverse, int zeroPoint) => (int)Math.Clamp(MathF.Round(x * inverse) + zeroPoint, 0f, 255f);

    /// <summary><see cref="ActivationCode"/> on 16 lanes: the same multiply, round-half-even, add and clamp.</summary>
    private static Vector512<int> Quantize(Vector512<float> x, Vector512<float> inverse, Vector512<float> zeroPoint) =>
        Vector512.ConvertToInt32(Vector512.Clamp(Vector512.Round(x * inverse) + zeroPoint, Vector512<float>.Zero, Vector512.Create(255f)));

    /// <summary>Activation codes as bytes (the unsigned operand of vpdpbusd), k..kPadded−1 set to the zero point.</summary>
    public static void Unsigned8(float* x, int k, float inverse, int zeroPoint, byte* dst, int kPadded)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vi = Vector512.Create(inverse);
            var vz = Vector512.Create((float)zeroPoint);
            for (; i + 16 <= k; i += 16)
            {
                var codes = Quantize(Vector512.Load(x + i), vi, vz);
                var halves = Vector256.Narrow(codes.GetLower(), codes.GetUpper()).AsUInt16();
                Vector128.Narrow(halves.GetLower(), halves.GetUpper()).Store(dst + i);
            }
        }
        for (; i < k; i++) dst[i] = (byte)ActivationCode(x[i], inverse, zeroPoint);
        for (; i < kPadded; i++) dst[i] = (byte)zeroPoint;
    }

    /// <summary>Activation codes as 16-bit integers (the operand of vpmaddwd), k..kPadded−1 set to the zero point.</summary>
    public static void Unsigned16(float* x, int k, float inverse, int zeroPoint, short* dst, int kPadded)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vi = Vector512.Create(inverse);
            var vz = Vector512.Create((float)zeroPoint);
            for (; i + 16 <= k; i += 16)
            {
                var codes = Quantize(Vector512.Load(x + i), vi, vz);
                Vector256.Narrow(codes.GetLower(), codes.GetUpper()).Store(dst + i);
            }
        }
        for (; i < k; i++) dst[i] = (short)ActivationCode(x[i], inverse, zeroPoint);
        for (; i < kPadded; i++) dst[i] = (short)zeroPoint;
    }
}
