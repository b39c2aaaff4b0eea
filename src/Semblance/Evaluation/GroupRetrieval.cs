// Retrieval evaluation over groups of similar sentences: top-k accuracy of finding a sentence's group (the GRU +
// AM-Softmax post's evaluation).
using System.Numerics.Tensors;
using Semblance.IO;

namespace Semblance.Evaluation;

/// <summary>Top-k accuracy ×100 for each k, over <see cref="Queries"/> queries among <see cref="Candidates"/> sentences.</summary>
public sealed record RetrievalResult(int Queries, int Candidates, int Groups, IReadOnlyList<(int K, double Accuracy)> TopK);

/// <summary>
/// A held-out file of text&lt;TAB&gt;group lines. Every sentence whose group has another member in the file is a
/// query; its candidates are all the other sentences of the file. A query is a hit at k when one of its k nearest
/// candidates by cosine belongs to its group: its rank is the number of other-group candidates scoring strictly
/// above its best same-group candidate, and it is a hit at k when that rank is below k (ties count in its favour).
/// </summary>
public static class GroupRetrieval
{
    public static IReadOnlyList<int> DefaultK { get; } = [1, 5, 10];

    /// <summary>The texts and groups of a text&lt;TAB&gt;group file, one-line errors naming file and line.</summary>
    public static (List<string> Texts, List<string> Groups) Load(string path)
    {
        var texts = new List<string>();
        var groups = new List<string>();
        long number = 0;
        foreach (var line in TextLines.ReadFile(path))
        {
            number++;
            if (line.Trim().Length == 0) continue;
            var fields = line.Split('\t');
            if (fields.Length != 2 || fields[0].Trim().Length == 0 || fields[1].Trim().Length == 0)
                throw new InputFormatException($"{path}:{number}: expected text<TAB>group (two non-empty columns), got {fields.Length} column(s)");
            texts.Add(fields[0]);
            groups.Add(fields[1]);
        }
        if (texts.Count < 2) throw new InputFormatException($"{path}: {texts.Count} line(s); retrieval needs at least two sentences");
        return (texts, groups);
    }

    /// <summary>Scores <paramref name="vectors"/> ([groups.Count, dimension], one per sentence, any norm) by cosine.</summary>
    public static RetrievalResult Evaluate(IReadOnlyList<string> groups, float[] vectors, int dimension, IReadOnlyList<int>? ks = null)
    {
        ks ??= DefaultK;
        int n = groups.Count;
        if (vectors.Length != (long)n * dimension) throw new ArgumentException($"vectors hold {vectors.Length} floats, expected {n}x{dimension}");
        var unit = (float[])vectors.Clone();
        for (int i = 0; i < n; i++)
        {
            var row = unit.AsSpan(i * dimension, dimension);
            float norm = TensorPrimitives.Norm(row);
            if (norm > 0) TensorPrimitives.Divide(row, norm, row);
        }
        var sizes = groups.GroupBy(g => g, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var ranks = new List<int>();
        var scores = new float[n];
        for (int q = 0; q < n; q++)
        {
            if (sizes[groups[q]] < 2) continue;
            var query = unit.AsSpan(q * dimension, dimension);
            float best = float.NegativeInfinity;
            for (int c = 0; c < n; c++)
            {
                scores[c] = TensorPrimitives.Dot(query, unit.AsSpan(c * dimension, dimension));
                if (c != q && groups[c] == groups[q] && scores[c] > best) best = scores[c];
            }
            int rank = 0;
            for (int c = 0; c < n; c++)
                if (c != q && groups[c] != groups[q] && scores[c] > best) rank++;
            ranks.Add(rank);
        }
        if (ranks.Count == 0) throw new InputFormatException("no group has two sentences in the file, so no sentence has a group member to find");
        var topK = ks.Select(k => (k, 100.0 * ranks.Count(r => r < k) / ranks.Count)).ToList();
        return new RetrievalResult(ranks.Count, n, sizes.Count(s => s.Value >= 2), topK);
    }
}
