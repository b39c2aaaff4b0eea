// The UniLM sequence-to-sequence attention mask (Dong et al., 2019) that SimBERT / RoFormer-Sim generate with, as
// bert4keras' unilm_mask defines it.
namespace Semblance.Models;

/// <summary>
/// With c = cumsum(token_type_ids) (inclusive), query i may attend to key j iff c[j] ≤ c[i]: the source (type 0) sees
/// itself bidirectionally, the target (type 1) sees all of the source and its own positions up to i. Positions are the
/// plain indices across both segments. Masked entries get float.MinValue, as transformers adds finfo(float32).min.
/// </summary>
internal static class Seq2SeqMask
{
    /// <summary>Writes the additive mask [types.Length²] (query-major) for one sequence.</summary>
    public static void Fill(ReadOnlySpan<int> types, Span<float> mask)
    {
        int n = types.Length;
        Span<int> c = n <= 512 ? stackalloc int[n] : new int[n];
        int sum = 0;
        for (int i = 0; i < n; i++) c[i] = sum += types[i];
        Fill(c, c, mask);
    }

    /// <summary>
    /// Writes the additive mask [queries·keys] (query-major) of queries whose cumulative types are
    /// <paramref name="queryCumulative"/> against keys whose cumulative types are <paramref name="keyCumulative"/>
    /// (a decoder step: the new rows against the cached and new rows); returns whether any entry is masked.
    /// </summary>
    public static bool Fill(ReadOnlySpan<int> keyCumulative, ReadOnlySpan<int> queryCumulative, Span<float> mask)
    {
        int keys = keyCumulative.Length;
        bool any = false;
        for (int i = 0; i < queryCumulative.Length; i++)
        {
            var row = mask.Slice(i * keys, keys);
            int ci = queryCumulative[i];
            for (int j = 0; j < keys; j++)
            {
                bool visible = keyCumulative[j] <= ci;
                row[j] = visible ? 0f : float.MinValue;
                any |= !visible;
            }
        }
        return any;
    }

    /// <summary>
    /// The attention kernel's per-sequence mask for <paramref name="batch"/>: the UniLM mask of each sequence's types
    /// when the batch is flagged <see cref="TokenBatch.UsesSeq2SeqMask"/>, otherwise null (bidirectional). Inference and
    /// the tape both take their mask from here.
    /// </summary>
    public static Numerics.Attention.SequenceMask? For(TokenBatch batch) => batch.UsesSeq2SeqMask
        ? (_, start, length, additive) => Fill(batch.TypeIds.AsSpan(start, length), additive)
        : null;
}
