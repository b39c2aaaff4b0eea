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
/// </remarks>
internal sealed class PackedWeight
{
    internal const int PanelWidth = 32;

    private PackedWeight(int outFeatures, int inFeatures, AlignedBuffer data)
    {
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        Data = data;
    }

    public int OutFeatures { get; }
    public int InFeatures { get; }

    internal int PanelCount => (OutFeatures + PanelWidth - 1) / PanelWidth;

    /// <summary>Packed storage; layout is private to <see cref="Gemm"/>.</summary>
    internal AlignedBuffer Data { get; }

    /// <param name="reuse">An earlier pack whose storage is taken over when it is large enough (training re-packs
    /// every step); it must not be used afterwards.</param>
    public static PackedWeight Pack(ReadOnlySpan<float> weightOutIn, int outFeatures, int inFeatures, PackedWeight? reuse = null)
    {
        if (outFeatures < 1 || inFeatures < 1)
            throw new ArgumentException($"weight shape must be positive, got {outFeatures}x{inFeatures}");
        if (weightOutIn.Length != checked(outFeatures * inFeatures))
            throw new ArgumentException($"weight has {weightOutIn.Length} values, expected {outFeatures}x{inFeatures}");
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
        reuse is not null && reuse.Data.Length >= length ? reuse.Data : new AlignedBuffer(length);

    /// <summary>Writes W back in its [outFeatures, inFeatures] layout.</summary>
    public void Unpack(Span<float> weightOutIn)
    {
        if (weightOutIn.Length != OutFeatures * InFeatures)
            throw new ArgumentException($"destination has {weightOutIn.Length} values, expected {OutFeatures}x{InFeatures}", nameof(weightOutIn));
        var src = Data.Span;
        for (int o = 0; o < OutFeatures; o++)
        {
            int baseIndex = o / PanelWidth * InFeatures * PanelWidth + o % PanelWidth;
            var row = weightOutIn.Slice(o * InFeatures, InFeatures);
            for (int i = 0; i < InFeatures; i++) row[i] = src[baseIndex + i * PanelWidth];
        }
    }
}
