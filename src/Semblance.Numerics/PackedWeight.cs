// A Linear layer's weight, re-laid out once at load for the GEMM micro-kernel.
namespace Semblance.Numerics;

/// <summary>
/// Weight of y = x·Wᵀ (+ b) with W given as [outFeatures, inFeatures] (Hugging Face / PyTorch layout),
/// packed once so every forward pass streams it in the order the kernel consumes it.
/// </summary>
public sealed class PackedWeight
{
    private PackedWeight(int outFeatures, int inFeatures, float[] data)
    {
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        Data = data;
    }

    public int OutFeatures { get; }
    public int InFeatures { get; }

    /// <summary>Packed storage; layout is private to <see cref="Gemm"/>.</summary>
    internal float[] Data { get; }

    public static PackedWeight Pack(ReadOnlySpan<float> weightOutIn, int outFeatures, int inFeatures)
    {
        if (weightOutIn.Length != checked(outFeatures * inFeatures))
            throw new ArgumentException($"weight has {weightOutIn.Length} values, expected {outFeatures}x{inFeatures}");
        // Reference layout: transposed to [in, out] row-major.
        var data = new float[weightOutIn.Length];
        for (int o = 0; o < outFeatures; o++)
            for (int i = 0; i < inFeatures; i++)
                data[i * outFeatures + o] = weightOutIn[o * inFeatures + i];
        return new PackedWeight(outFeatures, inFeatures, data);
    }
}
