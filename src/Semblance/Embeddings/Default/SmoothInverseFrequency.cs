// Smooth inverse frequency term weights (Arora, Liang & Ma 2017, "A Simple but Tough-to-Beat Baseline for Sentence
// Embeddings"): w(t) = a / (a + p(t)), p(t) = count(t) / Σ_t' count(t') over the corpus. Frequent features get
// weight → 0 smoothly, rare ones → 1; the paper's second step (remove the first principal component) is SpectralLsa's
// drop-top with centring. Knob: a (1e-3 typical; smaller = stronger down-weighting of frequent features).
namespace Semblance.Embeddings.Default;

internal static class SmoothInverseFrequency
{
    public const double DefaultA = 1e-3;

    /// <summary>
    /// Weights for features with corpus counts <paramref name="counts"/> (occurrences, not lines) out of
    /// <paramref name="total"/> feature occurrences in the corpus (vocabulary cut-offs included).
    /// </summary>
    public static float[] Weights(IReadOnlyList<long> counts, long total, double a)
    {
        if (!(a > 0)) throw new ArgumentOutOfRangeException(nameof(a), $"a = {a} must be positive");
        var w = new float[counts.Count];
        for (int i = 0; i < w.Length; i++) w[i] = (float)(a / (a + (double)counts[i] / Math.Max(total, 1)));
        return w;
    }
}
