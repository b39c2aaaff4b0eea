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

    private QuantizedWeight(int outFeatures, int inFeatures, AlignedBuffer<sbyte> data, AlignedBuffer<float> scales, AlignedBuffer<int> columnSums,
        AlignedBuffer<float>? inputMultipliers)
    {
        InputMultipliers = inputMultipliers;
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        Data = data;
        Scales = scales;
        ColumnSums = columnSums;
    }

    public int OutFeatures { get; }
    public int InFeatures { get; }

    /// <summary>Bytes held: codes, scales and column sums.</summary>
    public long Bytes => Data.Length + 4L * Scales.Length + 4L * ColumnSums.Length + 4L * (InputMultipliers?.Length ?? 0);

    /// <summary>1/s[k] for a smoothed weight (each input is multiplied by it before the row is quantised); null when not smoothed.</summary>
    internal AlignedBuffer<float>? InputMultipliers { get; }

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
    public static QuantizedWeight Quantize(ReadOnlySpan<float> weightOutIn, int outFeatures, int inFeatures, ReadOnlySpan<float> inputSmoothing = default)
    {
        if (!inputSmoothing.IsEmpty && inputSmoothing.Length != inFeatures)
            throw new ArgumentException($"input smoothing has {inputSmoothing.Length} values, expected {inFeatures}", nameof(inputSmoothing));
        foreach (var f in inputSmoothing)
            if (!(f > 0) || !float.IsFinite(f)) throw new ArgumentException($"input smoothing factors must be positive and finite, got {f}", nameof(inputSmoothing));
        if (outFeatures < 1 || inFeatures < 1)
            throw new ArgumentException($"weight shape must be positive, got {outFeatures}x{inFeatures}");
        if (weightOutIn.Length != checked(outFeatures * inFeatures))
            throw new ArgumentException($"weight has {weightOutIn.Length} values, expected {outFeatures}x{inFeatures}");
        int panels = (outFeatures + PanelWidth - 1) / PanelWidth, quads = (inFeatures + 3) / 4;
        var data = new AlignedBuffer<sbyte>(checked(panels * quads * 4 * PanelWidth));
        var scales = new AlignedBuffer<float>(panels * PanelWidth);
        var sums = new AlignedBuffer<int>(panels * PanelWidth);
        var dst = data.Span;
        dst.Clear();
        scales.Span.Clear();
        sums.Span.Clear();
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
        }
        AlignedBuffer<float>? multipliers = null;
        if (!inputSmoothing.IsEmpty)
        {
            multipliers = new AlignedBuffer<float>(inFeatures);
            for (int i = 0; i < inFeatures; i++) multipliers.Span[i] = 1f / inputSmoothing[i];
        }
        return new QuantizedWeight(outFeatures, inFeatures, data, scales, sums, multipliers);
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
/// Symmetric int8 quantisation of one row: scale = max|x| / 127, code = round-half-even(x · 127 / max|x|) clamped
/// to ±127. The same definition for weights (at load) and activations (per row, per call), in scalar and vector
/// code alike, so a row's codes never depend on the tier or on the other rows.
/// </summary>
internal static unsafe class RowQuantizer
{
    /// <summary>Scale of <paramref name="row"/>; a row holding NaN or ±Inf gets a NaN scale (its outputs come out NaN,
    /// as in float32) and zero codes; an all-zero row scale 0.</summary>
    public static float Scale(ReadOnlySpan<float> row, out float inverse)
    {
        float max = 0f, poison = 0f;
        int i = 0;
        if (Vector512.IsHardwareAccelerated && row.Length >= 16)
        {
            var vmax = Vector512<float>.Zero;
            var vpoison = Vector512<float>.Zero;
            for (; i + 16 <= row.Length; i += 16)
            {
                var v = Vector512.Create(row.Slice(i, 16));
                vmax = Vector512.Max(vmax, Vector512.Abs(v));
                vpoison += v - v;
            }
            for (int j = 0; j < Vector512<float>.Count; j++) max = Math.Max(max, vmax[j]);
            poison = Vector512.Sum(vpoison);
        }
        for (; i < row.Length; i++)
        {
            max = Math.Max(max, Math.Abs(row[i]));
            poison += row[i] - row[i];
        }
        if (!float.IsFinite(poison) || !float.IsFinite(max))
        {
            inverse = 0f;
            return float.NaN;
        }
        if (max == 0f)
        {
            inverse = 0f;
            return 0f;
        }
        inverse = 127f / max;
        return max / 127f;
    }

    public static int Code(float x, float inverse) => (int)Math.Clamp(MathF.Round(x * inverse), -127f, 127f);

    /// <summary><see cref="Code"/> on 16 lanes: the same multiply, round-half-even and clamp.</summary>
    private static Vector512<int> Quantize(Vector512<float> x, Vector512<float> inverse) =>
        Vector512.ConvertToInt32(Vector512.Clamp(Vector512.Round(x * inverse), Vector512.Create(-127f), Vector512.Create(127f)));

    /// <summary>codes + 128 as bytes (the unsigned operand of vpdpbusd), k..kPadded−1 set to 128 (code 0).</summary>
    public static void Biased(float* x, int k, float inverse, byte* dst, int kPadded)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vi = Vector512.Create(inverse);
            for (; i + 16 <= k; i += 16)
            {
                var biased = Quantize(Vector512.Load(x + i), vi) + Vector512.Create(128);
                var halves = Vector256.Narrow(biased.GetLower(), biased.GetUpper()).AsUInt16();
                Vector128.Narrow(halves.GetLower(), halves.GetUpper()).Store(dst + i);
            }
        }
        for (; i < k; i++) dst[i] = (byte)(Code(x[i], inverse) + 128);
        for (; i < kPadded; i++) dst[i] = 128;
    }

    /// <summary>codes as 16-bit integers (the operand of vpmaddwd), k..kPadded−1 zero.</summary>
    public static void Signed16(float* x, int k, float inverse, short* dst, int kPadded)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vi = Vector512.Create(inverse);
            for (; i + 16 <= k; i += 16)
            {
                var q = Quantize(Vector512.Load(x + i), vi);
                Vector256.Narrow(q.GetLower(), q.GetUpper()).Store(dst + i);
            }
        }
        for (; i < k; i++) dst[i] = (short)Code(x[i], inverse);
        for (; i < kPadded; i++) dst[i] = 0;
    }
}
