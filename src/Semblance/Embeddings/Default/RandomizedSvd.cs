// Randomized truncated SVD (Halko, Martinsson & Tropp 2011, "Finding structure with randomness", Alg. 4.4 and 5.1)
// of a sparse X [n, V], for its top-k right singular vectors:
//   Q ← Ω ~ N(0, 1)^(V × l), l = k + oversampling;   q times (at least once): Q ← orth(Xᵀ (X Q))   (subspace iteration on XᵀX)
//   Rayleigh–Ritz: G = Qᵀ XᵀX Q = W S² Wᵀ,  V_k = Q W[:, :k],  σ = S[:k].
// Knobs: oversampling (more = closer to the exact SVD), powerIterations q (separates close singular values),
// seed (the same seed and input give the same result, for any thread count).
using System.Numerics.Tensors;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;

namespace Semblance.Embeddings.Default;

/// <summary>Top-k right singular vectors [V, k] row-major (as float) and singular values, largest first.</summary>
internal sealed record TruncatedSvd(float[] RightVectors, double[] SingularValues, int Rank);

internal static class RandomizedSvd
{
    // Rows of X are split into this many fixed blocks for XᵀXQ, each with its own accumulator: fixed (not the thread
    // count) so that the summation order, and therefore the result, does not depend on the machine.
    private const int Blocks = 2;

    public static TruncatedSvd Fit(SparseRows x, int k, int oversampling = 16, int powerIterations = 3, int seed = 0)
    {
        int v = x.ColumnCount;
        if (k < 1 || k > Math.Min(v, x.Rows)) throw new ArgumentOutOfRangeException(nameof(k), $"k = {k} must be in 1..min(n = {x.Rows}, V = {v})");
        int l = Math.Min(k + oversampling, Math.Min(v, x.Rows));
        var rng = new Random(seed);
        var q = new double[(long)v * l];
        for (long i = 0; i < q.Length; i++) q[i] = Gaussian(rng);
        // A Gaussian block is already well conditioned: the first product needs no orthonormalisation before it.
        for (int it = 0; it < Math.Max(1, powerIterations); it++)
            q = Orthonormalize(GramTimes(x, q, l), v, ref l);
        var h = GramTimes(x, q, l);
        var gFlat = new double[l * l];
        int lq = l;
        // Each worker owns a band of G's rows and sums over r in the same order, so the result is thread-count independent.
        Parallel.For(0, Blocks * 2, band =>
        {
            int a0 = lq * band / (Blocks * 2), a1 = lq * (band + 1) / (Blocks * 2);
            for (int r = 0; r < v; r++)
            {
                var hr = new ReadOnlySpan<double>(h, r * lq, lq);
                for (int a = a0; a < a1; a++)
                {
                    double qa = q[(long)r * lq + a];
                    if (qa != 0) TensorPrimitives.MultiplyAdd(hr, qa, new Span<double>(gFlat, a * lq, lq), new Span<double>(gFlat, a * lq, lq));
                }
            }
        });
        var g = new double[l, l];
        for (int a = 0; a < l; a++)
            for (int b = a; b < l; b++) g[a, b] = g[b, a] = (gFlat[a * l + b] + gFlat[b * l + a]) / 2;
        var evd = Matrix<double>.Build.DenseOfArray(g).Evd(Symmetricity.Symmetric);
        var values = evd.EigenValues.Select(c => c.Real).ToArray();
        var order = Enumerable.Range(0, l).OrderByDescending(i => values[i]).ThenBy(i => i).ToArray();
        k = Math.Min(k, l);
        var w = new double[l * k];
        for (int j = 0; j < k; j++)
            for (int a = 0; a < l; a++) w[a * k + j] = evd.EigenVectors[a, order[j]];
        var vk = new double[(long)v * k];
        int ll = l, kk = k;
        Parallel.For(0, v, r =>
        {
            var o = new Span<double>(vk, r * kk, kk);
            for (int a = 0; a < ll; a++)
            {
                double qa = q[(long)r * ll + a];
                if (qa != 0) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<double>(w, a * kk, kk), qa, o, o);
            }
        });
        var right = new float[(long)v * k];
        for (int j = 0; j < k; j++)
        {
            // Singular vectors are defined up to sign; the largest component positive makes saved models reproducible.
            int arg = 0;
            for (int r = 1; r < v; r++) if (Math.Abs(vk[(long)r * k + j]) > Math.Abs(vk[(long)arg * k + j])) arg = r;
            double sign = vk[(long)arg * k + j] < 0 ? -1 : 1;
            for (int r = 0; r < v; r++) right[(long)r * k + j] = (float)(sign * vk[(long)r * k + j]);
        }
        var sigma = order.Take(k).Select(i => Math.Sqrt(Math.Max(0, values[i]))).ToArray();
        return new TruncatedSvd(right, sigma, k);
    }

    private static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Xᵀ (X Q) for Q [V, l] row-major, without forming X Q for all rows at once.</summary>
    internal static double[] GramTimes(SparseRows x, double[] q, int l)
    {
        int v = x.ColumnCount;
        var partial = new double[Blocks][];
        Parallel.For(0, Blocks, b =>
        {
            var y = new double[(long)v * l];
            var z = new double[l];
            int r0 = (int)((long)x.Rows * b / Blocks), r1 = (int)((long)x.Rows * (b + 1) / Blocks);
            for (int r = r0; r < r1; r++)
            {
                Array.Clear(z);
                int s = x.RowStart[r], e = x.RowStart[r + 1];
                for (int p = s; p < e; p++)
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<double>(q, x.Columns[p] * l, l), x.Values[p], z, z);
                for (int p = s; p < e; p++)
                {
                    var yr = new Span<double>(y, x.Columns[p] * l, l);
                    TensorPrimitives.MultiplyAdd(z, x.Values[p], yr, yr);
                }
            }
            partial[b] = y;
        });
        var sum = partial[0];
        for (int b = 1; b < Blocks; b++) TensorPrimitives.Add(sum, partial[b], sum);
        return sum;
    }

    /// <summary>
    /// Orthonormal columns spanning Y [rows, l] via its Gram matrix: YᵀY = U Λ Uᵀ, Q = Y U Λ^(-1/2). Directions with
    /// λ ≤ 1e-12·λ_max (rank deficiency) are dropped and <paramref name="l"/> shrinks accordingly.
    /// </summary>
    internal static double[] Orthonormalize(double[] y, int rows, ref int l)
    {
        int cols = l;
        var gram = new double[cols * cols];
        const int tile = 16;
        int tiles = (cols + tile - 1) / tile;
        Parallel.For(0, tiles, t =>
        {
            int a0 = t * tile, a1 = Math.Min(cols, a0 + tile);
            for (int r = 0; r < rows; r++)
            {
                var yr = new ReadOnlySpan<double>(y, r * cols, cols);
                for (int a = a0; a < a1; a++)
                {
                    double ya = yr[a];
                    if (ya == 0) continue;
                    var ga = new Span<double>(gram, a * cols + a, cols - a);
                    TensorPrimitives.MultiplyAdd(yr[a..], ya, ga, ga);
                }
            }
        });
        var g = new double[cols, cols];
        for (int a = 0; a < cols; a++)
            for (int b = a; b < cols; b++) g[a, b] = g[b, a] = gram[a * cols + b];
        var evd = Matrix<double>.Build.DenseOfArray(g).Evd(Symmetricity.Symmetric);
        var values = evd.EigenValues.Select(c => c.Real).ToArray();
        double max = values.Max();
        var keep = Enumerable.Range(0, cols).Where(i => values[i] > 1e-12 * max).OrderByDescending(i => values[i]).ToArray();
        int outCols = keep.Length;
        var m = new double[cols * outCols];
        for (int j = 0; j < outCols; j++)
        {
            double s = 1 / Math.Sqrt(values[keep[j]]);
            for (int a = 0; a < cols; a++) m[a * outCols + j] = evd.EigenVectors[a, keep[j]] * s;
        }
        var q = new double[(long)rows * outCols];
        Parallel.For(0, rows, r =>
        {
            var yr = new ReadOnlySpan<double>(y, r * cols, cols);
            var qr = new Span<double>(q, r * outCols, outCols);
            for (int a = 0; a < cols; a++)
                if (yr[a] != 0) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<double>(m, a * outCols, outCols), yr[a], qr, qr);
        });
        l = outCols;
        return q;
    }
}
