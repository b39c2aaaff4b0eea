// A Linear layer's weight, re-laid out once at load for the GEMM micro-kernel.
namespace Semblance.Numerics;

/// <summary>
/// Weight of y = x·Wᵀ (+ b) with W given as [outFeatures, inFeatures] (Hugging Face / PyTorch layout),
/// packed once so every forward pass streams it in the order the kernel consumes it.
/// </summary>
/// <remarks>
/// Layout: W is cut into panels of <see cref="PanelWidth"/> output features. Panel j holds, for k = 0..in−1,
/// the 32 values W[32j .. 32j+31, k] side by side, so the micro-kernel reads one 128-byte row of the panel
/// per step of k. The last panel is zero-padded; the whole buffer is 64-byte aligned.
/// A 16-bit weight (<see cref="Format"/> Float16 or BFloat16) keeps its stored bits in the same panels, a panel row
/// being 32 ushorts (one cache line) in the order column 0, 16, 1, 17, ..., 15, 31: read as 16 uints, the lower
/// halves are columns 0..15 and the upper halves columns 16..31, so the kernel widens a row with a shift and a mask
/// (<see cref="WideningMicroKernel"/>).
/// </remarks>
internal sealed class PackedWeight
{
    internal const int PanelWidth = 32;

    private readonly AlignedBuffer? _data;
    private readonly AlignedBuffer<ushort>? _data16;

    private PackedWeight(int outFeatures, int inFeatures, AlignedBuffer data)
    {
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        _data = data;
    }

    private PackedWeight(int outFeatures, int inFeatures, WeightFormat format, AlignedBuffer<ushort> data)
    {
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        Format = format;
        _data16 = data;
    }

    public int OutFeatures { get; }
    public int InFeatures { get; }

    /// <summary>How the panels hold the values: float32, or the 16-bit format they were stored in.</summary>
    public WeightFormat Format { get; }

    internal int PanelCount => (OutFeatures + PanelWidth - 1) / PanelWidth;

    /// <summary>Packed float32 storage; layout is private to <see cref="Gemm"/>.</summary>
    internal AlignedBuffer Data => _data ?? throw new InvalidOperationException($"a {Format} packed weight has no float32 panels");

    /// <summary>Packed 16-bit storage (<see cref="Format"/> is Float16 or BFloat16).</summary>
    internal AlignedBuffer<ushort> Data16 => _data16 ?? throw new InvalidOperationException("a float32 packed weight has no 16-bit panels");

    /// <summary>Bytes the panels occupy.</summary>
    public long ResidentBytes => (long)PanelCount * PanelWidth * InFeatures * Format.ByteSize();

    /// <summary>Position of column <paramref name="lane"/> (0..31) in a 16-bit panel row.</summary>
    internal static int Slot16(int lane) => lane < 16 ? 2 * lane : 2 * (lane - 16) + 1;

    /// <summary>
    /// Packs 16-bit floats W [outFeatures, inFeatures] in <paramref name="stored"/> format: as 16-bit panels, or, when
    /// <paramref name="widen"/>, widened straight into float32 panels (no float32 copy of W is made either way).
    /// </summary>
    public static PackedWeight Pack(ReadOnlySpan<ushort> weightOutIn, WeightFormat stored, int outFeatures, int inFeatures, bool widen)
    {
        if (stored == WeightFormat.Float32) throw new ArgumentException("expected 16-bit values", nameof(stored));
        CheckShape(weightOutIn.Length, outFeatures, inFeatures);
        int panels = (outFeatures + PanelWidth - 1) / PanelWidth;
        int length = checked(panels * inFeatures * PanelWidth);
        if (widen)
        {
            var data = new AlignedBuffer(length);
            var dst = data.Span;
            dst.Clear();
            for (int o = 0; o < outFeatures; o++)
            {
                int baseIndex = o / PanelWidth * inFeatures * PanelWidth + o % PanelWidth;
                var row = weightOutIn.Slice(o * inFeatures, inFeatures);
                for (int i = 0; i < inFeatures; i++) dst[baseIndex + i * PanelWidth] = HalfFloats.Widen(stored, row[i]);
            }
            return new PackedWeight(outFeatures, inFeatures, data);
        }
        var data16 = new AlignedBuffer<ushort>(length);
        var dst16 = data16.Span;
        dst16.Clear();
        for (int o = 0; o < outFeatures; o++)
        {
            int baseIndex = o / PanelWidth * inFeatures * PanelWidth + Slot16(o % PanelWidth);
            var row = weightOutIn.Slice(o * inFeatures, inFeatures);
            for (int i = 0; i < inFeatures; i++) dst16[baseIndex + i * PanelWidth] = row[i];
        }
        return new PackedWeight(outFeatures, inFeatures, stored, data16);
    }

    private static void CheckShape(int length, int outFeatures, int inFeatures)
    {
        if (outFeatures < 1 || inFeatures < 1)
            throw new ArgumentException($"weight shape must be positive, got {outFeatures}x{inFeatures}");
        if (length != checked(outFeatures * inFeatures))
            throw new ArgumentException($"weight has {length} values, expected {outFeatures}x{inFeatures}");
    }

    /// <param name="reuse">An earlier pack whose storage is taken over when it is large enough (training re-packs
    /// every step); it must not be used afterwards.</param>
    public static PackedWeight Pack(ReadOnlySpan<float> weightOutIn, int outFeatures, int inFeatures, PackedWeight? reuse = null)
    {
        CheckShape(weightOutIn.Length, outFeatures, inFeatures);
        int panels = (outFeatures + PanelWidth - 1) / PanelWidth;
        var data = Storage(checked(panels * inFeatures * PanelWidth), reuse);
        var dst = data.Span;
        dst.Clear();
        for (int o = 0; o < outFeatures; o++)
        {
            int panel = o / PanelWidth, lane = o % PanelWidth;
            var row = weightOutIn.Slice(o * inFeatures, inFeatures);
            int baseIndex = panel * inFeatures * PanelWidth + lane;
            for (int i = 0; i < inFeatures; i++) dst[baseIndex + i * PanelWidth] = row[i];
        }
        return new PackedWeight(outFeatures, inFeatures, data);
    }

    /// <summary>
    /// Packs W given transposed, as Wᵀ [inFeatures, outFeatures] row-major (an activation or a weight used as x·B):
    /// each panel row is 32 consecutive floats of one source row, so this is block copies, no transpose.
    /// </summary>
    public static PackedWeight PackFromInOut(ReadOnlySpan<float> weightInOut, int outFeatures, int inFeatures, PackedWeight? reuse = null)
    {
        if (outFeatures < 1 || inFeatures < 1)
            throw new ArgumentException($"weight shape must be positive, got {outFeatures}x{inFeatures}");
        if (weightInOut.Length != checked(outFeatures * inFeatures))
            throw new ArgumentException($"weight has {weightInOut.Length} values, expected {inFeatures}x{outFeatures}");
        int panels = (outFeatures + PanelWidth - 1) / PanelWidth;
        var data = Storage(checked(panels * inFeatures * PanelWidth), reuse);
        var dst = data.Span;
        for (int panel = 0; panel < panels; panel++)
        {
            int o0 = panel * PanelWidth, width = Math.Min(PanelWidth, outFeatures - o0);
            for (int i = 0; i < inFeatures; i++)
            {
                var target = dst.Slice((panel * inFeatures + i) * PanelWidth, PanelWidth);
                weightInOut.Slice(i * outFeatures + o0, width).CopyTo(target);
                if (width < PanelWidth) target[width..].Clear();
            }
        }
        return new PackedWeight(outFeatures, inFeatures, data);
    }

    private static AlignedBuffer Storage(int length, PackedWeight? reuse) =>
        reuse is { _data: { } old } && old.Length >= length ? old : new AlignedBuffer(length);

    /// <summary>Writes W back in its [outFeatures, inFeatures] layout (16-bit panels widened).</summary>
    public void Unpack(Span<float> weightOutIn)
    {
        if (weightOutIn.Length != OutFeatures * InFeatures)
            throw new ArgumentException($"destination has {weightOutIn.Length} values, expected {OutFeatures}x{InFeatures}", nameof(weightOutIn));
        for (int o = 0; o < OutFeatures; o++)
        {
            var row = weightOutIn.Slice(o * InFeatures, InFeatures);
            int panelStart = o / PanelWidth * InFeatures * PanelWidth;
            if (Format == WeightFormat.Float32)
            {
                var src = Data.Span;
                for (int i = 0; i < InFeatures; i++) row[i] = src[panelStart + o % PanelWidth + i * PanelWidth];
            }
            else
            {
                var src = Data16.Span;
                for (int i = 0; i < InFeatures; i++) row[i] = HalfFloats.Widen(Format, src[panelStart + Slot16(o % PanelWidth) + i * PanelWidth]);
            }
        }
    }
}
