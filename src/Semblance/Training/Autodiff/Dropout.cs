// Counter-based dropout masks: a pure function of (key, site, index), so a mask never depends on batch split or thread.
namespace Semblance.Training.Autodiff;

/// <summary>
/// Each sequence carries a 64-bit key; a dropout site (layer and position in the network) and an element index
/// pick one uniform number from a hash of the three. Re-running a sequence with the same key reproduces its masks
/// exactly, whatever else is in the batch, which is what exact chunked gradient accumulation needs.
/// </summary>
public static class DropoutMask
{
    /// <summary>True when the element is dropped (probability <paramref name="p"/>).</summary>
    public static bool Dropped(ulong key, int site, long index, float p) => Uniform(key, site, index) < p;

    /// <summary>A uniform number in [0, 1) from SplitMix64's finaliser applied twice over the mixed inputs.</summary>
    public static float Uniform(ulong key, int site, long index)
    {
        ulong z = Mix(key ^ Mix(((ulong)(uint)site << 40) ^ (ulong)index ^ 0x9E3779B97F4A7C15UL));
        return (z >> 40) * (1f / (1 << 24));
    }

    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
