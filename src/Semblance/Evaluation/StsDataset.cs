// STS pair files: `sentence1<TAB>sentence2<TAB>score`, one pair per line, UTF-8, no header, no quoting.
using System.Globalization;
using Semblance.IO;

namespace Semblance.Evaluation;

public sealed record StsPair(string Sentence1, string Sentence2, double Score);

/// <summary>
/// A loaded STS file. The distinct sentences are listed once (<see cref="Sentences"/>) so an encoder sees each only
/// once; <see cref="Left"/>/<see cref="Right"/> index into them per pair.
/// </summary>
public sealed class StsDataset
{
    private StsDataset(string source, IReadOnlyList<StsPair> pairs)
    {
        Source = source;
        Pairs = pairs;
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var sentences = new List<string>();
        int Id(string s)
        {
            if (!index.TryGetValue(s, out int i))
            {
                i = sentences.Count;
                index[s] = i;
                sentences.Add(s);
            }
            return i;
        }
        Left = new int[pairs.Count];
        Right = new int[pairs.Count];
        for (int p = 0; p < pairs.Count; p++)
        {
            Left[p] = Id(pairs[p].Sentence1);
            Right[p] = Id(pairs[p].Sentence2);
        }
        Sentences = sentences;
    }

    public string Source { get; }

    public IReadOnlyList<StsPair> Pairs { get; }

    public IReadOnlyList<string> Sentences { get; }

    public int[] Left { get; }

    public int[] Right { get; }

    public double[] Gold => Pairs.Select(p => p.Score).ToArray();

    public static StsDataset Load(string path) => Parse(TextLines.ReadFile(path), path);

    /// <summary>Parses lines; every error names <paramref name="source"/> and the 1-based line number.</summary>
    public static StsDataset Parse(IEnumerable<string> lines, string source)
    {
        var pairs = new List<StsPair>();
        long lineNumber = 0;
        foreach (var line in lines)
        {
            lineNumber++;
            if (line.Length == 0) throw new InputFormatException($"{source}: line {lineNumber}: empty line; expected sentence1<TAB>sentence2<TAB>score");
            var fields = line.Split('\t');
            if (fields.Length < 3)
                throw new InputFormatException($"{source}: line {lineNumber}: {fields.Length} tab-separated column{(fields.Length == 1 ? "" : "s")}, expected 3 (sentence1<TAB>sentence2<TAB>score)");
            if (fields.Length > 3)
                throw new InputFormatException($"{source}: line {lineNumber}: {fields.Length} tab-separated columns, expected 3 (sentence1<TAB>sentence2<TAB>score)");
            if (!double.TryParse(fields[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double score) || !double.IsFinite(score))
                throw new InputFormatException($"{source}: line {lineNumber}: score '{fields[2]}' is not a number; expected a numeric similarity in column 3");
            if (fields[0].Length == 0 || fields[1].Length == 0)
                throw new InputFormatException($"{source}: line {lineNumber}: sentence{(fields[0].Length == 0 ? 1 : 2)} is empty");
            pairs.Add(new StsPair(fields[0], fields[1], score));
        }
        if (pairs.Count == 0) throw new InputFormatException($"{source}: no sentence pairs; expected lines of sentence1<TAB>sentence2<TAB>score");
        if (pairs.Count < 2) throw new InputFormatException($"{source}: 1 sentence pair; a correlation needs at least 2");
        return new StsDataset(source, pairs);
    }
}
