// The default encoder's features: character n-grams inside CJK runs, and words plus their boundary-marked
// character n-grams (fastText-style subwords) for other scripts, after NFKC and lower-casing.
using System.Text;

namespace Semblance.Embeddings.Default;

/// <summary>Which features are extracted; stored in the model's config.json so a saved encoder reproduces them.</summary>
public sealed record LexicalFeatureSettings
{
    /// <summary>Shortest and longest character n-gram inside a run of CJK characters (Han, kana, Hangul).</summary>
    public int CjkMinN { get; init; } = 1;
    public int CjkMaxN { get; init; } = 2;

    /// <summary>Shortest and longest character n-gram of "&lt;word&gt;" for other scripts; 0 disables subwords.</summary>
    public int SubwordMinN { get; init; } = 3;
    public int SubwordMaxN { get; init; } = 4;

    public void Validate(string source)
    {
        if (CjkMinN < 1 || CjkMaxN < CjkMinN || CjkMaxN > 8)
            throw new ModelFormatException($"{source}: cjk n-gram range {CjkMinN}..{CjkMaxN} is invalid; expected 1 <= min <= max <= 8");
        if (SubwordMinN != 0 && (SubwordMinN < 2 || SubwordMaxN < SubwordMinN || SubwordMaxN > 8))
            throw new ModelFormatException($"{source}: subword n-gram range {SubwordMinN}..{SubwordMaxN} is invalid; expected 0 (off) or 2 <= min <= max <= 8");
    }
}

internal sealed class LexicalFeatures(LexicalFeatureSettings settings)
{
    public LexicalFeatureSettings Settings { get; } = settings;

    /// <summary>
    /// Adds each feature of <paramref name="text"/> with its count to <paramref name="counts"/> (cleared first).
    /// Prefixes keep the kinds apart: "c:" CJK n-gram, "w:" word, "s:" subword.
    /// </summary>
    public void Extract(string text, Dictionary<string, int> counts)
    {
        counts.Clear();
        var norm = text.Normalize(NormalizationForm.FormKC).ToLowerInvariant();
        var runes = new List<Rune>(norm.Length);
        foreach (var r in norm.EnumerateRunes()) runes.Add(r);
        int i = 0;
        var sb = new StringBuilder();
        while (i < runes.Count)
        {
            var kind = Classify(runes[i]);
            if (kind == RuneKind.Other) { i++; continue; }
            int start = i;
            while (i < runes.Count && Classify(runes[i]) == kind) i++;
            if (kind == RuneKind.Cjk) AddCjk(runes, start, i, counts, sb);
            else AddWord(runes, start, i, counts, sb);
        }
    }

    /// <summary>
    /// The features of a text none of whose <see cref="Extract"/> features a model knows: those features themselves, or
    /// when there are none (punctuation, symbols) each non-space character ("r:"), or for a blank text the single
    /// feature "e:". Never empty, so such a text still gets a defined, non-zero vector.
    /// </summary>
    public void ExtractFallback(string text, Dictionary<string, int> counts)
    {
        Extract(text, counts);
        if (counts.Count > 0) return;
        foreach (var r in text.Normalize(NormalizationForm.FormKC).ToLowerInvariant().EnumerateRunes())
            if (!Rune.IsWhiteSpace(r) && !Rune.IsControl(r)) Increment(counts, "r:" + r.ToString());
        if (counts.Count == 0) counts["e:"] = 1;
    }

    private void AddCjk(List<Rune> runes, int start, int end, Dictionary<string, int> counts, StringBuilder sb)
    {
        for (int n = Settings.CjkMinN; n <= Settings.CjkMaxN; n++)
            for (int s = start; s + n <= end; s++)
            {
                sb.Clear().Append("c:");
                for (int j = s; j < s + n; j++) sb.Append(runes[j].ToString());
                Increment(counts, sb.ToString());
            }
    }

    private void AddWord(List<Rune> runes, int start, int end, Dictionary<string, int> counts, StringBuilder sb)
    {
        sb.Clear().Append("w:");
        for (int j = start; j < end; j++) sb.Append(runes[j].ToString());
        Increment(counts, sb.ToString());
        if (Settings.SubwordMinN == 0) return;
        // "<word>" as runes: position p maps to '<' at -1 and '>' at len.
        int len = end - start;
        for (int n = Settings.SubwordMinN; n <= Settings.SubwordMaxN; n++)
            for (int s = -1; s + n <= len + 1; s++)
            {
                sb.Clear().Append("s:");
                for (int p = s; p < s + n; p++)
                    sb.Append(p < 0 ? "<" : p >= len ? ">" : runes[start + p].ToString());
                Increment(counts, sb.ToString());
            }
    }

    private static void Increment(Dictionary<string, int> counts, string key) =>
        counts[key] = counts.TryGetValue(key, out int c) ? c + 1 : 1;

    private enum RuneKind { Other, Cjk, Word }

    private static RuneKind Classify(Rune r)
    {
        int v = r.Value;
        if ((v >= 0x4E00 && v <= 0x9FFF) || (v >= 0x3400 && v <= 0x4DBF) || (v >= 0xF900 && v <= 0xFAFF) || (v >= 0x20000 && v <= 0x3134F)
            || (v >= 0x3040 && v <= 0x30FF) || (v >= 0xAC00 && v <= 0xD7AF) || v == 0x3005)
            return RuneKind.Cjk;
        return Rune.IsLetterOrDigit(r) ? RuneKind.Word : RuneKind.Other;
    }
}
