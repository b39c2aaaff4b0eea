// A batch of token sequences stored packed (no padding), the input of every transformer encoder.
namespace Semblance.Models;

/// <summary>
/// Sequences laid end to end: sequence b occupies rows <c>Offsets[b] .. Offsets[b+1]-1</c> of <see cref="Ids"/>
/// and <see cref="TypeIds"/> (and of every hidden state). Packing instead of padding means the dense layers never
/// compute padding rows; attention runs per sequence over its own rows only, which is exactly what a
/// padded + masked computation yields for the real tokens.
/// </summary>
public sealed class TokenBatch
{
    public TokenBatch(int[] ids, int[] typeIds, int[] offsets)
    {
        if (offsets.Length == 0 || offsets[0] != 0) throw new ArgumentException("offsets must start with 0", nameof(offsets));
        if (offsets[^1] != ids.Length || typeIds.Length != ids.Length)
            throw new ArgumentException("offsets, ids and typeIds disagree on the token count");
        for (int i = 1; i < offsets.Length; i++)
            if (offsets[i] < offsets[i - 1]) throw new ArgumentException("offsets must not decrease", nameof(offsets));
        Ids = ids;
        TypeIds = typeIds;
        Offsets = offsets;
    }

    public int[] Ids { get; }

    /// <summary>
    /// Attend under the UniLM seq2seq mask (<see cref="Seq2SeqMask"/>) derived from <see cref="TypeIds"/> instead of
    /// bidirectionally: segment 0 sees only itself, segment 1 sees segment 0 and its own earlier positions.
    /// </summary>
    public bool UsesSeq2SeqMask { get; init; }

    public int[] TypeIds { get; }

    /// <summary>[BatchSize + 1] start rows; the last entry is <see cref="TokenCount"/>.</summary>
    public int[] Offsets { get; }

    public int BatchSize => Offsets.Length - 1;

    public int TokenCount => Ids.Length;

    public int Length(int sequence) => Offsets[sequence + 1] - Offsets[sequence];

    public int MaxLength
    {
        get
        {
            int max = 0;
            for (int b = 0; b < BatchSize; b++) max = Math.Max(max, Length(b));
            return max;
        }
    }

    /// <summary>Packs sequences; <paramref name="typeIds"/> null means all zeros.</summary>
    public static TokenBatch FromSequences(IReadOnlyList<int[]> ids, IReadOnlyList<int[]>? typeIds = null)
    {
        var offsets = new int[ids.Count + 1];
        for (int b = 0; b < ids.Count; b++) offsets[b + 1] = offsets[b] + ids[b].Length;
        var flatIds = new int[offsets[^1]];
        var flatTypes = new int[offsets[^1]];
        for (int b = 0; b < ids.Count; b++)
        {
            ids[b].CopyTo(flatIds, offsets[b]);
            if (typeIds is not null)
            {
                if (typeIds[b].Length != ids[b].Length) throw new ArgumentException($"sequence {b}: type ids and ids differ in length");
                typeIds[b].CopyTo(flatTypes, offsets[b]);
            }
        }
        return new TokenBatch(flatIds, flatTypes, offsets);
    }
}
