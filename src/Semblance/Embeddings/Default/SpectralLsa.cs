// Latent semantic analysis (Deerwester et al. 1990) used as a boost on top of TF-IDF rather than instead of it:
//   X ≈ U Σ Vᵀ (top k, RandomizedSvd),   u(x) = Vᵀ x  (exact coordinates of x in the LSA subspace),
//   w_j² = 1 + β · (σ_m / σ_j)^(2(1−p))  for j ≥ m,   w_j² = 1 for j < m,
// so that Σ_j w_j² u_j u'_j = u·u' + β Σ_{j≥m} (σ_m/σ_j)^(2(1−p)) u_j u'_j: the TF-IDF similarity restricted to the
// subspace plus β times an LSA similarity. p is the eigenvalue-weighting exponent (Caron 2001; Bullinaria & Levy
// 2012): p = 1 weights directions like plain LSA, p = 0 equalises them (whitening-like). The m top directions get no
// boost: they encode word frequency and length, not meaning ("all-but-the-top", Mu & Viswanath 2018).
// Knobs: k, β (0 = pure TF-IDF similarity), p, m.
using System.Numerics.Tensors;

namespace Semblance.Embeddings.Default;

/// <summary>The LSA basis V [Features, Dimension] (row-major) and the per-direction weights w [Dimension].</summary>
internal sealed class SpectralLsa
{
    public SpectralLsa(float[] basis, float[] weights)
    {
        if (weights.Length < 1 || basis.Length % weights.Length != 0)
            throw new ArgumentException($"basis has {basis.Length} values, not a multiple of the dimension {weights.Length}");
        Basis = basis;
        Weights = weights;
    }

    public float[] Basis { get; }

    public float[] Weights { get; }

    public int Dimension => Weights.Length;

    public int Features => Basis.Length / Weights.Length;

    /// <summary>w from the singular values of a truncated SVD (largest first), with boost β, exponent p and m unboosted top directions.</summary>
    public static float[] BoostWeights(IReadOnlyList<double> singularValues, double boost, double exponent, int dropTop)
    {
        int k = singularValues.Count;
        var w = new float[k];
        double top = dropTop < k ? singularValues[dropTop] : 0;
        for (int j = 0; j < k; j++)
        {
            double s = singularValues[j];
            // A direction without variance is not boosted: (σ_m/0)^(2(1−p)) would blow up.
            double extra = j < dropTop || s <= 1e-9 * top ? 0 : boost * Math.Pow(top / s, 2 * (1 - exponent));
            w[j] = (float)Math.Sqrt(1 + extra);
        }
        return w;
    }

    /// <summary>u(x) = Vᵀ x of row <paramref name="row"/> into <paramref name="output"/> [Dimension] (overwritten; unweighted).</summary>
    public void Coordinates(SparseRows x, int row, Span<float> output)
    {
        int k = Dimension;
        output.Clear();
        for (int q = x.RowStart[row]; q < x.RowStart[row + 1]; q++)
            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(Basis, x.Columns[q] * k, k), x.Values[q], output, output);
    }
}
