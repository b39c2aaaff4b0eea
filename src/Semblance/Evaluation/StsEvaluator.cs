// STS evaluation: cosine of each pair's embeddings against the gold score, as Spearman and Pearson ×100.
using System.Numerics.Tensors;
using Semblance.Embeddings;

namespace Semblance.Evaluation;

/// <summary>How vectors are whitened before the cosine: not at all, fitted on the evaluated sentences, or a saved file.</summary>
public sealed record StsWhitening(string Name, Whitening? Saved)
{
    public static readonly StsWhitening None = new("none", null);

    /// <summary>
    /// Fit on every sentence of both columns, duplicates included (the "target" setting of Su et al. 2021): each
    /// sentence counts as often as it occurs in the file.
    /// </summary>
    public static readonly StsWhitening Fit = new("fit", null);

    /// <summary>
    /// Fit on another corpus's vectors ([<paramref name="rows"/>, d], e.g. every sentence of the task's train, dev and
    /// test files, as the whitening paper does) instead of the evaluated file's; <paramref name="name"/> labels the rows.
    /// </summary>
    public static StsWhitening FitOn(string name, float[] vectors, int rows) => new(name, null) { Corpus = vectors, CorpusRows = rows };

    /// <summary>The vectors <see cref="FitOn"/> fits on; null = the evaluated file's own sentences.</summary>
    public float[]? Corpus { get; private init; }

    public int CorpusRows { get; private init; }

    /// <summary>Whether the whitening is fitted here (on the evaluated file or on <see cref="Corpus"/>) rather than loaded.</summary>
    public bool Fits => this == Fit || Corpus is not null;

    public static StsWhitening FromFile(string path) => new(path, Whitening.Load(path));

    /// <summary>"none", "fit" or a whitening file path.</summary>
    public static StsWhitening Parse(string value) => value switch
    {
        "none" => None,
        "fit" => Fit,
        _ => FromFile(value),
    };
}

public sealed record StsConfiguration(string Pooling, string Whitening, int Dims);

/// <summary>One configuration's scores (×100) and its per-pair predicted cosines, in file order.</summary>
public sealed record StsResult(StsConfiguration Configuration, double Spearman, double Pearson, double[] Predicted);

public static class StsEvaluator
{
    /// <summary>
    /// Scores raw (un-whitened) vectors of <see cref="StsDataset.Sentences"/> ([sentences, dimension]) under one
    /// whitening mode for each requested dimension (0 = all), re-using the vectors and, for "fit", one accumulation.
    /// A dimension larger than the whitened vectors have is an error, or, with <paramref name="skipped"/>, reported
    /// there and left out.
    /// </summary>
    public static IReadOnlyList<StsResult> Evaluate(StsDataset data, float[] vectors, int dimension, string pooling, StsWhitening whitening, IReadOnlyList<int> dims,
        Action<string>? skipped = null)
    {
        if (vectors.Length != (long)data.Sentences.Count * dimension)
            throw new ArgumentException($"vectors hold {vectors.Length} floats, expected {data.Sentences.Count}x{dimension}");
        if (dims.Count == 0) dims = [0];
        var results = new List<StsResult>();
        WhiteningAccumulator? acc = null;
        if (whitening.Corpus is { } corpus)
        {
            if (corpus.Length != (long)whitening.CorpusRows * dimension)
                throw new ArgumentException($"the fit corpus holds {corpus.Length} floats, expected {whitening.CorpusRows}x{dimension}");
            acc = new WhiteningAccumulator(dimension, whitening.Name);
            acc.Add(corpus, whitening.CorpusRows);
        }
        else if (whitening == StsWhitening.Fit)
        {
            acc = new WhiteningAccumulator(dimension, data.Source);
            var rows = new float[(long)data.Pairs.Count * 2 * dimension];
            for (int p = 0; p < data.Pairs.Count; p++)
            {
                vectors.AsSpan(data.Left[p] * dimension, dimension).CopyTo(rows.AsSpan(2 * p * dimension));
                vectors.AsSpan(data.Right[p] * dimension, dimension).CopyTo(rows.AsSpan((2 * p + 1) * dimension));
            }
            acc.Add(rows, data.Pairs.Count * 2);
        }
        else if (whitening.Saved is { } saved)
        {
            if (saved.InputDimension != dimension)
                throw new SemblanceException($"{whitening.Name}: the whitening expects {saved.InputDimension}-dimensional vectors but the encoder produces {dimension}");
            Whitening.CheckPooling(saved, pooling, whitening.Name);
        }
        foreach (int k in dims)
        {
            if (k < 0) throw new SemblanceException($"dims {k} is negative; expected 0 (all) or a positive dimension");
            int available = whitening == StsWhitening.None ? dimension : whitening.Saved?.OutputDimension ?? dimension;
            if (skipped is not null && k > available)
            {
                skipped($"dims {k}: skipped for pooling {pooling}, the {(whitening == StsWhitening.None ? "" : "whitened ")}vectors have {available} dimensions");
                continue;
            }
            float[] v = vectors;
            int dv = dimension;
            if (whitening == StsWhitening.None)
            {
                if (k != 0 && k != dimension)
                    throw new SemblanceException($"dims {k} needs whitening (fit or a file) to choose the directions to keep; without whitening only 0 (all {dimension}) is possible");
            }
            else
            {
                var w = acc is not null ? acc.Fit(k) : whitening.Saved!.Truncate(k);
                dv = w.OutputDimension;
                v = new float[(long)data.Sentences.Count * dv];
                w.Apply(vectors, v, data.Sentences.Count);
            }
            var predicted = Cosines(data, v, dv);
            var gold = data.Gold;
            results.Add(new StsResult(new StsConfiguration(pooling, whitening.Name, dv), 100 * Correlation.Spearman(gold, predicted), 100 * Correlation.Pearson(gold, predicted), predicted));
        }
        return results;
    }

    /// <summary>
    /// Plain TF-IDF cosine with a default encoder's own vocabulary and idf (no SVD, no whitening): the baseline the
    /// LSA encoder has to beat. Rows are L2-normalised, so the cosine is the sparse dot product.
    /// </summary>
    internal static StsResult EvaluateTfIdf(StsDataset data, Embeddings.Default.TfIdf tfidf)
    {
        var x = tfidf.Transform(data.Sentences);
        var predicted = new double[data.Pairs.Count];
        for (int p = 0; p < predicted.Length; p++) predicted[p] = SparseDot(x, data.Left[p], data.Right[p]);
        var gold = data.Gold;
        return new StsResult(new StsConfiguration("tfidf", "none", tfidf.Features.Count), 100 * Correlation.Spearman(gold, predicted), 100 * Correlation.Pearson(gold, predicted), predicted);
    }

    private static double SparseDot(Embeddings.Default.SparseRows x, int a, int b)
    {
        int i = x.RowStart[a], ie = x.RowStart[a + 1], j = x.RowStart[b], je = x.RowStart[b + 1];
        double s = 0;
        while (i < ie && j < je)
        {
            int ci = x.Columns[i], cj = x.Columns[j];
            if (ci == cj) s += (double)x.Values[i++] * x.Values[j++];
            else if (ci < cj) i++;
            else j++;
        }
        return s;
    }

    /// <summary>Cosine of each pair; 0 when either vector is zero.</summary>
    public static double[] Cosines(StsDataset data, ReadOnlySpan<float> vectors, int dimension)
    {
        var norms = new double[data.Sentences.Count];
        for (int i = 0; i < norms.Length; i++) norms[i] = TensorPrimitives.Norm(vectors.Slice(i * dimension, dimension));
        var result = new double[data.Pairs.Count];
        for (int p = 0; p < result.Length; p++)
        {
            int a = data.Left[p], b = data.Right[p];
            double denom = norms[a] * norms[b];
            result[p] = denom == 0 ? 0 : TensorPrimitives.Dot(vectors.Slice(a * dimension, dimension), vectors.Slice(b * dimension, dimension)) / denom;
        }
        return result;
    }
}
