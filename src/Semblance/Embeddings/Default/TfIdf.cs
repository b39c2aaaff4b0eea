// TF-IDF over a fixed vocabulary: w(t, d) = (1 + ln tf) · idf(t), idf(t) = ln((1 + n) / (1 + df(t))) + 1 (smoothed),
// each document vector L2-normalised. The vocabulary keeps features with df ≥ minDf, the most frequent first.
// The per-feature weight may instead be SIF's a / (a + p(t)) (SmoothInverseFrequency); the rest is the same.
namespace Semblance.Embeddings.Default;

/// <summary>Which per-feature weight multiplies the (sublinear) term frequency.</summary>
public enum TermWeighting { Idf, Sif }

/// <summary>Rows of a sparse matrix in CSR form: row i has columns Columns[RowStart[i]..RowStart[i+1]).</summary>
internal sealed record SparseRows(int Rows, int ColumnCount, int[] RowStart, int[] Columns, float[] Values)
{
    public long NonZeros => RowStart[Rows];
}

internal sealed class TfIdf
{
    private readonly Dictionary<string, int> _index;

    public TfIdf(IReadOnlyList<string> features, float[] idf, LexicalFeatures featurizer)
    {
        if (features.Count != idf.Length) throw new ArgumentException($"{features.Count} features but {idf.Length} idf values");
        Features = features;
        Idf = idf;
        Featurizer = featurizer;
        _index = new Dictionary<string, int>(features.Count, StringComparer.Ordinal);
        for (int i = 0; i < features.Count; i++)
            if (!_index.TryAdd(features[i], i)) throw new ModelFormatException($"feature '{features[i]}' appears twice in the vocabulary");
    }

    public IReadOnlyList<string> Features { get; }

    public float[] Idf { get; }

    public LexicalFeatures Featurizer { get; }

    /// <summary>Counts document frequencies over <paramref name="corpus"/> and keeps the top <paramref name="maxFeatures"/> with df ≥ <paramref name="minDf"/>.</summary>
    public static TfIdf Fit(IReadOnlyList<string> corpus, LexicalFeatures featurizer, int minDf, int maxFeatures,
        TermWeighting weighting = TermWeighting.Idf, double sifA = SmoothInverseFrequency.DefaultA)
    {
        var df = new Dictionary<string, (int Df, long Count)>(StringComparer.Ordinal);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var text in corpus)
        {
            featurizer.Extract(text, counts);
            foreach (var (f, c) in counts) df[f] = df.TryGetValue(f, out var e) ? (e.Df + 1, e.Count + c) : (1, c);
        }
        var kept = df.Where(kv => kv.Value.Df >= minDf)
            .OrderByDescending(kv => kv.Value.Df).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Take(maxFeatures).ToList();
        int n = corpus.Count;
        var weights = weighting == TermWeighting.Sif
            ? SmoothInverseFrequency.Weights(kept.Select(kv => kv.Value.Count).ToArray(), df.Values.Sum(e => e.Count), sifA)
            : kept.Select(kv => (float)(Math.Log((1.0 + n) / (1.0 + kv.Value.Df)) + 1)).ToArray();
        return new TfIdf(kept.Select(kv => kv.Key).ToArray(), weights, featurizer);
    }

    /// <summary>The L2-normalised TF-IDF rows of <paramref name="texts"/> (a text with no known feature is an empty row).</summary>
    public SparseRows Transform(IReadOnlyList<string> texts)
    {
        var rowStart = new int[texts.Count + 1];
        var perRow = new (int[] Cols, float[] Vals)[texts.Count];
        Parallel.For(0, texts.Count, () => new Dictionary<string, int>(StringComparer.Ordinal), (i, _, counts) =>
        {
            perRow[i] = Row(texts[i], counts);
            return counts;
        }, _ => { });
        for (int i = 0; i < texts.Count; i++) rowStart[i + 1] = checked(rowStart[i] + perRow[i].Cols.Length);
        var cols = new int[rowStart[^1]];
        var vals = new float[rowStart[^1]];
        for (int i = 0; i < texts.Count; i++)
        {
            perRow[i].Cols.CopyTo(cols, rowStart[i]);
            perRow[i].Vals.CopyTo(vals, rowStart[i]);
        }
        return new SparseRows(texts.Count, Features.Count, rowStart, cols, vals);
    }

    private (int[] Cols, float[] Vals) Row(string text, Dictionary<string, int> counts)
    {
        Featurizer.Extract(text, counts);
        var entries = new List<(int Col, float Val)>(counts.Count);
        double norm = 0;
        foreach (var (f, c) in counts)
        {
            if (!_index.TryGetValue(f, out int j)) continue;
            float v = (float)((1 + Math.Log(c)) * Idf[j]);
            entries.Add((j, v));
            norm += (double)v * v;
        }
        entries.Sort((a, b) => a.Col.CompareTo(b.Col));
        float scale = norm > 0 ? (float)(1 / Math.Sqrt(norm)) : 0;
        return (entries.Select(e => e.Col).ToArray(), entries.Select(e => e.Val * scale).ToArray());
    }
}
