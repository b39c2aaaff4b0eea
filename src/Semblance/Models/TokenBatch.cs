// A right-padded batch of token sequences, the input of every transformer encoder.
namespace Semblance.Models;

/// <summary>
/// <paramref name="Ids"/> and <paramref name="TypeIds"/> are [BatchSize, SeqLen] row-major, right-padded;
/// <paramref name="Lengths"/> holds each row's real length (the attention mask is t &lt; length).
/// </summary>
public sealed record TokenBatch(int BatchSize, int SeqLen, int[] Ids, int[] TypeIds, int[] Lengths)
{
    public static TokenBatch FromSequences(IReadOnlyList<int[]> ids, IReadOnlyList<int[]>? typeIds, int padId)
    {
        int b = ids.Count;
        int s = 0;
        for (int i = 0; i < b; i++) s = Math.Max(s, ids[i].Length);
        var flatIds = new int[b * s];
        var flatTypes = new int[b * s];
        var lengths = new int[b];
        for (int i = 0; i < b; i++)
        {
            var row = ids[i];
            lengths[i] = row.Length;
            row.CopyTo(flatIds, i * s);
            for (int t = row.Length; t < s; t++) flatIds[i * s + t] = padId;
            if (typeIds is not null) typeIds[i].CopyTo(flatTypes, i * s);
        }
        return new TokenBatch(b, s, flatIds, flatTypes, lengths);
    }

    public int TokenCount
    {
        get
        {
            int n = 0;
            foreach (var l in Lengths) n += l;
            return n;
        }
    }
}
