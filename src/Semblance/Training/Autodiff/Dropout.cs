// Counter-based dropout masks: a pure function of (key, site, index), so a mask never depends on batch split or thread.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Semblance.Training.Autodiff;

/// <summary>
/// Each sequence carries a 64-bit key; a dropout site (layer and position in the network) and an element index
/// pick one uniform number from a hash of the three. Re-running a sequence with the same key reproduces its masks
/// exactly, whatever else is in the batch, which is what exact chunked gradient accumulation needs.
/// </summary>
internal static class DropoutMask
{
    /// <summary>True when the element is dropped (probability <paramref name="p"/>).</summary>
    public static bool Dropped(ulong key, int site, long index, float p) => Uniform(key, site, index) < p;

    /// <summary>A uniform number in [0, 1) from SplitMix64's finaliser applied twice over the mixed inputs.</summary>
    public static float Uniform(ulong key, int site, long index)
    {
        ulong z = Mix(key ^ Mix(((ulong)(uint)site << 40) ^ (ulong)index ^ 0x9E3779B97F4A7C15UL));
        return (z >> 40) * (1f / (1 << 24));
    }

    /// <summary>
    /// Fills <paramref name="mask"/>[i] with 0 (dropped) or <paramref name="keep"/> for element indices
    /// <paramref name="firstIndex"/> + i: the same decisions as <see cref="Dropped"/>, eight at a time with AVX-512.
    /// </summary>
    public static void Fill(ulong key, int site, long firstIndex, float p, float keep, Span<float> mask)
    {
        ulong threshold = Threshold(p);
        int i = 0;
        if (Avx512DQ.IsSupported && mask.Length >= 8)
        {
            var vKey = Vector512.Create(key);
            var vSite = Vector512.Create(((ulong)(uint)site << 40) ^ 0x9E3779B97F4A7C15UL);
            var vThreshold = Vector512.Create(threshold);
            var vKeep = Vector256.Create(keep);
            var lanes = Vector512.Create(0UL, 1, 2, 3, 4, 5, 6, 7);
            for (; i <= mask.Length - 8; i += 8)
            {
                var index = Vector512.Create((ulong)(firstIndex + i)) + lanes;
                var z = Mix(vKey ^ Mix(vSite ^ index)) >>> 40;
                var dropped = Vector512.LessThan(z, vThreshold).AsUInt32();
                // Narrow the 64-bit lane masks to 32 bits (keep each lane's low half) for the float lanes.
                var narrow = Avx512F.ConvertToVector256UInt32(dropped.AsUInt64()).AsSingle();
                Vector256.AndNot(vKeep, narrow).CopyTo(mask[i..]);
            }
        }
        for (; i < mask.Length; i++) mask[i] = (Mix(key ^ Mix(((ulong)(uint)site << 40) ^ (ulong)(firstIndex + i) ^ 0x9E3779B97F4A7C15UL)) >> 40) < threshold ? 0f : keep;
    }

    /// <summary>
    /// The integer form of u &lt; p for u = z·2⁻²⁴ with z an integer below 2²⁴: z &lt; ⌈p·2²⁴⌉ (p·2²⁴ is exact in
    /// double), so the vector path decides exactly as <see cref="Uniform"/> does.
    /// </summary>
    private static ulong Threshold(float p) => p <= 0f ? 0UL : (ulong)Math.Min(Math.Ceiling((double)p * (1 << 24)), (double)(1UL << 25));

    private static Vector512<ulong> Mix(Vector512<ulong> z)
    {
        z += Vector512.Create(0x9E3779B97F4A7C15UL);
        z = Avx512DQ.MultiplyLow(z ^ (z >>> 30), Vector512.Create(0xBF58476D1CE4E5B9UL));
        z = Avx512DQ.MultiplyLow(z ^ (z >>> 27), Vector512.Create(0x94D049BB133111EBUL));
        return z ^ (z >>> 31);
    }

    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
