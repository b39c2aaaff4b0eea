// How many whitened dimensions to keep: the Spearman-vs-dims curve on an STS file, or the eigenvalue-energy curve.
using Semblance.Embeddings;

namespace Semblance.Evaluation;

/// <summary>One candidate dimension: the share of variance its directions hold and, with eval data, its Spearman ×100.</summary>
public sealed record DimensionPoint(int Dims, double Energy, double Spearman);

/// <summary>
/// The dimension advice <c>whiten fit</c> prints. The posts' Johnson–Lindenstrauss argument says a few hundred
/// directions carry the similarity structure; this measures it for the model at hand. Candidates are the powers of
/// two from 8 below the fitted dimension, and the fitted dimension itself. Energy(k) = Σ_{i&lt;k} λ_i / Σ λ_i (the
/// whitening's eigenvalues, descending). With an STS file, Spearman(k) is that file's Spearman ×100 under the whitening
/// truncated to its first k directions, and the advice is the smallest k whose Spearman is at least the full
/// whitening's minus <see cref="Tolerance"/>; without one, the smallest k reaching each of <see cref="EnergyLevels"/>.
/// </summary>
public static class WhiteningAdvisor
{
    public const double Tolerance = 0.5;

    public static IReadOnlyList<double> EnergyLevels { get; } = [0.9, 0.95, 0.99];

    public static IReadOnlyList<int> Candidates(int dimension)
    {
        var dims = new List<int>();
        for (int k = 8; k < dimension; k *= 2) dims.Add(k);
        dims.Add(dimension);
        return dims;
    }

    /// <summary>Energy(k) for every candidate k of a whitening fitted with all its directions (Eigenvalues known).</summary>
    public static double Energy(Whitening full, int k)
    {
        var ev = full.Eigenvalues ?? throw new ArgumentException("the whitening's eigenvalues are not known (only right after a fit)", nameof(full));
        return ev.Take(k).Sum() / ev.Where(v => v > 0).Sum();
    }

    /// <summary>The curve without eval data (Spearman NaN).</summary>
    public static IReadOnlyList<DimensionPoint> EnergyCurve(Whitening full) =>
        Candidates(full.OutputDimension).Select(k => new DimensionPoint(k, Energy(full, k), double.NaN)).ToList();

    /// <summary>The smallest candidate whose energy reaches <paramref name="level"/>.</summary>
    public static int SmallestForEnergy(IReadOnlyList<DimensionPoint> curve, double level) =>
        curve.First(p => p.Energy >= level - 1e-12 || p == curve[^1]).Dims;

    /// <summary>
    /// The curve with Spearman on <paramref name="data"/>, whose sentences' raw vectors are <paramref name="vectors"/>,
    /// and the smallest candidate within <see cref="Tolerance"/> points of the full whitening's Spearman.
    /// </summary>
    public static (IReadOnlyList<DimensionPoint> Curve, int Advice) SpearmanCurve(Whitening full, StsDataset data, float[] vectors, string pooling)
    {
        var dims = Candidates(full.OutputDimension);
        var results = StsEvaluator.Evaluate(data, vectors, full.InputDimension, pooling, new StsWhitening("whitening", full), dims);
        var curve = dims.Select((k, i) => new DimensionPoint(k, Energy(full, k), results[i].Spearman)).ToList();
        double target = curve[^1].Spearman - Tolerance;
        return (curve, curve.First(p => p.Spearman >= target || p == curve[^1]).Dims);
    }
}
