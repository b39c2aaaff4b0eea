// The matrix side of CUR retrieval with a cross-encoder (Yadav et al., EMNLP 2022): with R = CE(anchor queries × all
// items) [kq, n] and anchor items a_1..a_ki (so A = CE(anchor queries × anchor items) = the columns a_j of R), a query's
// scores against every item are approximated from its ki exact scores C against the anchor items as C · pinv(A) · R.
// U = pinv(A) · R [ki, n] is computed once, so a query costs ki cross-encoder calls and one ki × n product.
using System.Numerics.Tensors;
using MathNet.Numerics.LinearAlgebra;

namespace Semblance.CrossEncoders;

/// <summary>
/// U = pinv(A) · R for one choice of anchor items, and the approximate scores C · U of a query. The pseudo-inverse comes
/// from an SVD of A (in double) that drops singular values below <c>RelativeCutoff × σ_max</c>.
/// </summary>
public sealed class CurApproximation
{
    private readonly float[] _u;
    private readonly bool[] _isAnchor;

    private CurApproximation(int[] anchorItems, int items, float[] u, int rank, double[] singularValues)
    {
        AnchorItems = anchorItems;
        Items = items;
        _u = u;
        Rank = rank;
        SingularValues = singularValues;
        _isAnchor = new bool[items];
        foreach (var a in anchorItems) _isAnchor[a] = true;
    }

    /// <summary>The anchor items' slots, in the order C is given.</summary>
    public IReadOnlyList<int> AnchorItems { get; }

    /// <summary>Items n.</summary>
    public int Items { get; }

    /// <summary>Singular values of A kept by the cut-off.</summary>
    public int Rank { get; }

    /// <summary>All singular values of A, largest first.</summary>
    public IReadOnlyList<double> SingularValues { get; }

    /// <summary>U = pinv(A) · R, [ki, n] row-major.</summary>
    public ReadOnlySpan<float> U => _u;

    /// <summary>Whether item <paramref name="slot"/> is an anchor item (its exact score is part of C).</summary>
    public bool IsAnchor(int slot) => _isAnchor[slot];

    /// <summary>
    /// Fits U from R [<paramref name="anchorQueries"/>, <paramref name="items"/>] (row-major) and the anchor item slots
    /// (distinct, in [0, items)); singular values of A at or below <paramref name="relativeCutoff"/> × the largest are treated as 0.
    /// </summary>
    public static CurApproximation Fit(ReadOnlySpan<float> r, int anchorQueries, int items, IReadOnlyList<int> anchorItems, double relativeCutoff)
    {
        int kq = anchorQueries, ki = anchorItems.Count;
        if (kq < 1 || items < 1 || ki < 1) throw new ArgumentException("CUR needs at least one anchor query, one item and one anchor item");
        if (r.Length != (long)kq * items) throw new ArgumentException($"R has {r.Length} scores, expected {kq} × {items}");
        if (!(relativeCutoff >= 0 && relativeCutoff < 1)) throw new ArgumentOutOfRangeException(nameof(relativeCutoff), "the relative cut-off must be in [0, 1)");
        if (anchorItems.Distinct().Count() != ki || anchorItems.Any(a => a < 0 || a >= items))
            throw new ArgumentException("anchor items must be distinct item slots");
        var a = Matrix<double>.Build.Dense(kq, ki);
        for (int q = 0; q < kq; q++)
            for (int j = 0; j < ki; j++) a[q, j] = r[q * items + anchorItems[j]];
        var svd = a.Svd(computeVectors: true);
        var sigma = svd.S.ToArray();
        double cut = sigma.Length == 0 ? 0 : relativeCutoff * sigma[0];
        int rank = sigma.Count(s => s > cut && s > 0);
        // pinv(A) = V_r Σ_r⁻¹ U_rᵀ  [ki, kq]
        var pinv = new double[ki * kq];
        for (int t = 0; t < rank; t++)
        {
            double inv = 1 / sigma[t];
            for (int j = 0; j < ki; j++)
            {
                double v = svd.VT[t, j] * inv;
                for (int q = 0; q < kq; q++) pinv[j * kq + q] += v * svd.U[q, t];
            }
        }
        // U = pinv(A) · R, accumulated in double per row.
        var u = new float[(long)ki * items];
        var row = new double[items];
        for (int j = 0; j < ki; j++)
        {
            Array.Clear(row);
            for (int q = 0; q < kq; q++)
            {
                double p = pinv[j * kq + q];
                if (p == 0) continue;
                var rq = r.Slice(q * items, items);
                for (int i = 0; i < items; i++) row[i] += p * rq[i];
            }
            for (int i = 0; i < items; i++) u[(long)j * items + i] = (float)row[i];
        }
        return new CurApproximation([.. anchorItems], items, u, rank, sigma);
    }

    /// <summary>Approximate scores of all items [n] from a query's exact scores <paramref name="c"/> against the anchor items.</summary>
    public float[] Approximate(ReadOnlySpan<float> c)
    {
        if (c.Length != AnchorItems.Count) throw new ArgumentException($"C has {c.Length} scores, expected one per anchor item ({AnchorItems.Count})");
        var scores = new float[Items];
        var u = U;
        for (int j = 0; j < c.Length; j++)
            TensorPrimitives.MultiplyAdd(u.Slice(j * Items, Items), c[j], scores, scores);
        return scores;
    }

    /// <summary>
    /// The <paramref name="depth"/> items that are not anchor items with the highest approximate scores, best first
    /// (ties: smaller slot first): the candidates to score exactly.
    /// </summary>
    public int[] Candidates(ReadOnlySpan<float> c, int depth)
    {
        var approx = Approximate(c);
        var order = Enumerable.Range(0, Items).Where(i => !_isAnchor[i]).ToArray();
        var keys = order.Select(i => -approx[i]).ToArray();
        Array.Sort(keys, order);
        return order.Length <= depth ? order : order[..depth];
    }

    /// <summary>
    /// The final ranking of one query: the anchor items (exact scores <paramref name="c"/>) and the candidates (exact scores
    /// <paramref name="candidateScores"/>), the best <paramref name="k"/> as (slot, score), best first, ties by slot.
    /// </summary>
    public (int Slot, float Score)[] Merge(ReadOnlySpan<float> c, IReadOnlyList<int> candidates, ReadOnlySpan<float> candidateScores, int k)
    {
        var all = new List<(int Slot, float Score)>(AnchorItems.Count + candidates.Count);
        for (int j = 0; j < AnchorItems.Count; j++) all.Add((AnchorItems[j], c[j]));
        for (int j = 0; j < candidates.Count; j++) all.Add((candidates[j], candidateScores[j]));
        return [.. all.OrderByDescending(x => x.Score).ThenBy(x => x.Slot).Take(k)];
    }

    /// <summary>Wraps a stored U (as <see cref="Fit"/> computed it) for searching.</summary>
    public static CurApproximation FromStored(int[] anchorItems, int items, float[] u, int rank, double[] singularValues)
    {
        if (u.Length != (long)anchorItems.Length * items) throw new ArgumentException("U does not have ki × n entries");
        return new CurApproximation(anchorItems, items, u, rank, singularValues);
    }
}
