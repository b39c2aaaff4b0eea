// Scaled dot-product attention, softmax(Q·Kᵀ·scale + mask)·V: the one kernel every architecture runs, for inference
// (MultiHead over a packed batch) and for training (the tape calls Head per sequence and head, keeping P).
namespace Semblance.Numerics;

/// <summary>
/// Multi-head attention (Vaswani et al., 2017, "Attention Is All You Need").
/// <see cref="Head"/> is the kernel: one head, <c>queries</c> query rows against <c>keys</c> key/value rows, so the
/// same call serves self-attention over a sequence (queries = keys = length), a decoder step with a KV cache (one new
/// query row against the cached keys and values, which are just longer K and V views) and, with
/// <c>additiveMask</c>, masked attention (a causal or UniLM seq2seq mask of 0 and −∞ entries).
/// <see cref="MultiHead"/> runs it for every (sequence, head) pair of a packed batch.
/// </summary>
/// <remarks>
/// Inputs are row-major views with a row stride, so the output of a fused QKV projection [tokens, 3·hidden]
/// is used in place: pass <c>qkv</c>, <c>qkv[hidden..]</c>, <c>qkv[(2·hidden)..]</c> with stride 3·hidden.
/// Head h of token t occupies columns h·headDim .. (h+1)·headDim − 1 of its row, as in Hugging Face's
/// view(tokens, heads, headDim). Each pair is computed by one thread from its own rows, so results do not depend on
/// the batch composition or the thread count.
/// </remarks>
internal static class Attention
{
    /// <summary>The score multiplier 1/√headDim, computed in double and rounded once (as Hugging Face's math.sqrt).</summary>
    public static float DefaultScale(int headDim) => (float)(1.0 / Math.Sqrt(headDim));

    /// <summary>
    /// One head: P = softmax(scale·Q·Kᵀ + mask) over each query row, O = (P ⊙ dropout)·V.
    /// Q is [queries, headDim] with row stride <paramref name="ldq"/>; K and V are [keys, headDim] with stride
    /// <paramref name="ldkv"/>; O is [queries, headDim] with stride <paramref name="ldOut"/>.
    /// <paramref name="probabilities"/> ([queries·keys], row-major) receives P, which a backward pass needs.
    /// <paramref name="additiveMask"/>, when given, is [queries·keys] added to the scores before the softmax.
    /// <paramref name="dropout"/>, when given, holds [queries·keys] factors (0 or 1/(1 − p)); it is overwritten with
    /// P ⊙ dropout, the matrix multiplied with V.
    /// </summary>
    public static void Head(ReadOnlySpan<float> q, int ldq, int queries, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int ldkv, int keys,
        int headDim, float scale, Span<float> probabilities, Span<float> output, int ldOut,
        ReadOnlySpan<float> additiveMask = default, Span<float> dropout = default)
    {
        int n = queries * keys;
        if (probabilities.Length < n) throw new ArgumentException($"probabilities hold {probabilities.Length} values, {queries}x{keys} needed", nameof(probabilities));
        if (n == 0) return;
        var p = probabilities[..n];
        Gemm.MultiplyABt(queries, keys, headDim, scale, q, ldq, k, ldkv, p, keys);
        if (!additiveMask.IsEmpty)
        {
            if (additiveMask.Length < n) throw new ArgumentException($"additiveMask holds {additiveMask.Length} values, {queries}x{keys} needed", nameof(additiveMask));
            System.Numerics.Tensors.TensorPrimitives.Add(p, additiveMask[..n], p);
        }
        Kernels.SoftmaxRows(p, queries, keys, keys);
        ReadOnlySpan<float> used = p;
        if (!dropout.IsEmpty)
        {
            if (dropout.Length < n) throw new ArgumentException($"dropout holds {dropout.Length} values, {queries}x{keys} needed", nameof(dropout));
            var dropped = dropout[..n];
            System.Numerics.Tensors.TensorPrimitives.Multiply(dropped, p, dropped);
            used = dropped;
        }
        Gemm.MultiplyAB(queries, headDim, keys, used, keys, v, ldkv, output, ldOut);
    }

    /// <summary>
    /// <see cref="Head"/> without mask or dropout, P kept in a scratch buffer whose rows are padded to whole 32-column
    /// panels: the score tiles are then written straight from registers (no narrow-tile copy) and the padding columns
    /// are zeros after the softmax. Each element sees the same operations as in <see cref="Head"/>, so the same bits.
    /// </summary>
    private static void HeadPadded(ReadOnlySpan<float> q, int ldq, int queries, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int ldkv, int keys,
        int headDim, float scale, Span<float> output, int ldOut)
    {
        if (queries == 0 || keys == 0) return;
        int ldp = (keys + MicroKernel.Width - 1) / MicroKernel.Width * MicroKernel.Width;
        var p = ScoreBuffer(queries * ldp);
        Gemm.MultiplyABt(queries, keys, headDim, scale, q, ldq, k, ldkv, p, ldp, padColumns: true);
        Kernels.SoftmaxRows(p, queries, ldp, keys);
        Gemm.MultiplyAB(queries, headDim, keys, p, ldp, v, ldkv, output, ldOut);
    }

    /// <summary>
    /// Called by the worker that computes a (sequence, head) pair, before it does: the place for a position transform
    /// of that pair's rows (RoFormer's rotary embedding of Q and K), which then runs in parallel with other pairs.
    /// </summary>
    public delegate void PairTransform(int sequence, int head, int start, int length);

    /// <summary>
    /// Writes sequence <paramref name="sequence"/>'s additive mask, [length·length] row-major (query, key), into
    /// <paramref name="mask"/>: 0 where a query may attend to a key, a large negative number where it may not.
    /// </summary>
    public delegate void SequenceMask(int sequence, int start, int length, Span<float> mask);

    /// <summary>
    /// Writes the additive mask [queries·keys] (query-major) of sequence <paramref name="sequence"/>'s new query rows
    /// against its keys, and returns true; returns false (writing nothing) when every key is visible to every query.
    /// </summary>
    public delegate bool QueryKeyMask(int sequence, int queries, int keys, Span<float> mask);

    /// <summary>Self-attention for every sequence of a packed batch; <paramref name="offsets"/> as in TokenBatch ([batch + 1], first 0).</summary>
    /// <param name="scale">Multiplier of Q·Kᵀ; NaN means <see cref="DefaultScale"/>.</param>
    /// <param name="beforePair">Optional transform of each pair's rows, see <see cref="PairTransform"/>.</param>
    /// <param name="mask">Optional per-sequence additive mask (e.g. the UniLM seq2seq mask); null = every key visible.</param>
    public static void MultiHead(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int ld, ReadOnlySpan<int> offsets,
        int heads, int headDim, Span<float> output, int ldOut, ComputeContext ctx, float scale = float.NaN, PairTransform? beforePair = null,
        SequenceMask? mask = null)
    {
        CheckOffsets(offsets, nameof(offsets));
        int batch = offsets.Length - 1;
        var starts = offsets[..batch].ToArray();
        var lengths = new int[batch];
        for (int b = 0; b < batch; b++) lengths[b] = offsets[b + 1] - offsets[b];
        QueryKeyMask? blockMask = mask is null ? null : (b, _, _, additive) =>
        {
            mask(b, starts[b], lengths[b], additive);
            return true;
        };
        MultiHead(q, ld, offsets, k, v, ld, starts, lengths, heads, headDim, output, ldOut, ctx, scale, beforePair, blockMask);
    }

    /// <summary>
    /// Attention of each sequence's query rows (packed: sequence b's are rows <c>queryOffsets[b] .. queryOffsets[b+1]−1</c>
    /// of <paramref name="q"/>) against its own key/value rows <c>keyStarts[b] .. keyStarts[b] + keyCounts[b] − 1</c> of
    /// <paramref name="k"/>/<paramref name="v"/>: self-attention when the two coincide, a decoder step when the keys are a
    /// KV cache holding earlier rows as well (the new rows are then the last ones of the keys).
    /// <paramref name="beforePair"/> receives (sequence, head, first query row, query count).
    /// </summary>
    public static void MultiHead(ReadOnlySpan<float> q, int ldq, ReadOnlySpan<int> queryOffsets,
        ReadOnlySpan<float> k, ReadOnlySpan<float> v, int ldkv, ReadOnlySpan<int> keyStarts, ReadOnlySpan<int> keyCounts,
        int heads, int headDim, Span<float> output, int ldOut, ComputeContext ctx, float scale = float.NaN, PairTransform? beforePair = null,
        QueryKeyMask? mask = null)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (heads < 1 || headDim < 1) throw new ArgumentException($"heads ({heads}) and headDim ({headDim}) must be positive");
        CheckOffsets(queryOffsets, nameof(queryOffsets));
        int batch = queryOffsets.Length - 1;
        if (keyStarts.Length < batch || keyCounts.Length < batch) throw new ArgumentException($"keyStarts and keyCounts need {batch} entries");
        int tokens = queryOffsets[^1], width = heads * headDim, keyRows = 0;
        for (int b = 0; b < batch; b++)
        {
            if (keyStarts[b] < 0 || keyCounts[b] < 0) throw new ArgumentException($"sequence {b}: negative key start or count");
            keyRows = Math.Max(keyRows, keyStarts[b] + keyCounts[b]);
        }
        CheckRows(q.Length, tokens, width, ldq, nameof(q));
        CheckRows(k.Length, keyRows, width, ldkv, nameof(k));
        CheckRows(v.Length, keyRows, width, ldkv, nameof(v));
        CheckRows(output.Length, tokens, width, ldOut, nameof(output));
        if (float.IsNaN(scale)) scale = DefaultScale(headDim);
        if (tokens == 0) return;

        unsafe
        {
            fixed (float* pq = q)
            fixed (float* pk = k)
            fixed (float* pv = v)
            fixed (float* po = output)
            fixed (int* poff = queryOffsets)
            fixed (int* pks = keyStarts)
            fixed (int* pkc = keyCounts)
            {
                float* qs = pq, ks = pk, vs = pv, os = po;
                int* offs = poff, kStarts = pks, kCounts = pkc;
                int qLen = q.Length, kLen = k.Length, vLen = v.Length, oLen = output.Length;
                float s = scale;
                ctx.For(batch * heads, task =>
                {
                    int b = task / heads, h = task % heads;
                    int start = offs[b], queries = offs[b + 1] - start, keys = kCounts[b];
                    if (queries == 0) return;
                    beforePair?.Invoke(b, h, start, queries);
                    long qAt = (long)start * ldq + h * headDim, kvAt = (long)kStarts[b] * ldkv + h * headDim, outAt = (long)start * ldOut + h * headDim;
                    Span<float> additive = default;
                    if (mask is not null)
                    {
                        additive = MaskBuffer(queries * keys);
                        if (!mask(b, queries, keys, additive)) additive = default;
                    }
                    if (additive.IsEmpty)
                    {
                        HeadPadded(new ReadOnlySpan<float>(qs + qAt, qLen - (int)qAt), ldq, queries,
                            new ReadOnlySpan<float>(ks + kvAt, kLen - (int)kvAt), new ReadOnlySpan<float>(vs + kvAt, vLen - (int)kvAt), ldkv, keys,
                            headDim, s, new Span<float>(os + outAt, oLen - (int)outAt), ldOut);
                        return;
                    }
                    Head(new ReadOnlySpan<float>(qs + qAt, qLen - (int)qAt), ldq, queries,
                        new ReadOnlySpan<float>(ks + kvAt, kLen - (int)kvAt), new ReadOnlySpan<float>(vs + kvAt, vLen - (int)kvAt), ldkv, keys,
                        headDim, s, ScoreBuffer(queries * keys), new Span<float>(os + outAt, oLen - (int)outAt), ldOut, additive);
                });
            }
        }
    }

    private static void CheckOffsets(ReadOnlySpan<int> offsets, string name)
    {
        if (offsets.Length < 1 || offsets[0] != 0) throw new ArgumentException("offsets must start with 0", name);
        for (int i = 1; i < offsets.Length; i++)
            if (offsets[i] < offsets[i - 1]) throw new ArgumentException("offsets must not decrease", name);
    }

    [ThreadStatic] private static float[]? _scores;
    [ThreadStatic] private static float[]? _masks;

    private static Span<float> MaskBuffer(int length)
    {
        if (_masks is null || _masks.Length < length) _masks = new float[Math.Max(length, 64 * 64)];
        return _masks.AsSpan(0, length);
    }

    /// <summary>A per-thread score matrix, grown to the longest sequence seen and reused across calls.</summary>
    private static Span<float> ScoreBuffer(int length)
    {
        if (_scores is null || _scores.Length < length) _scores = new float[Math.Max(length, 64 * 64)];
        return _scores.AsSpan(0, length);
    }

    private static void CheckRows(int length, int rows, int cols, int ld, string name)
    {
        if (ld < cols) throw new ArgumentException($"{name}: row stride {ld} is smaller than heads x headDim = {cols}", name);
        long need = rows == 0 ? 0 : (long)(rows - 1) * ld + cols;
        if (length < need) throw new ArgumentException($"{name} has {length} values, {rows} tokens with stride {ld} need {need}", name);
    }
}
