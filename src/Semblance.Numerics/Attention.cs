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
    /// Called by the worker that computes a (sequence, head) pair, before it does: the place for a position transform
    /// of that pair's rows (RoFormer's rotary embedding of Q and K), which then runs in parallel with other pairs.
    /// </summary>
    public delegate void PairTransform(int sequence, int head, int start, int length);

    /// <summary>
    /// Writes sequence <paramref name="sequence"/>'s additive mask, [length·length] row-major (query, key), into
    /// <paramref name="mask"/>: 0 where a query may attend to a key, a large negative number where it may not.
    /// </summary>
    public delegate void SequenceMask(int sequence, int start, int length, Span<float> mask);

    /// <summary>Self-attention for every sequence of a packed batch; <paramref name="offsets"/> as in TokenBatch ([batch + 1], first 0).</summary>
    /// <param name="scale">Multiplier of Q·Kᵀ; NaN means <see cref="DefaultScale"/>.</param>
    /// <param name="beforePair">Optional transform of each pair's rows, see <see cref="PairTransform"/>.</param>
    /// <param name="mask">Optional per-sequence additive mask (e.g. the UniLM seq2seq mask); null = every key visible.</param>
    public static void MultiHead(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int ld, ReadOnlySpan<int> offsets,
        int heads, int headDim, Span<float> output, int ldOut, ComputeContext ctx, float scale = float.NaN, PairTransform? beforePair = null,
        SequenceMask? mask = null)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (heads < 1 || headDim < 1) throw new ArgumentException($"heads ({heads}) and headDim ({headDim}) must be positive");
        if (offsets.Length < 1 || offsets[0] != 0) throw new ArgumentException("offsets must start with 0", nameof(offsets));
        for (int i = 1; i < offsets.Length; i++)
            if (offsets[i] < offsets[i - 1]) throw new ArgumentException("offsets must not decrease", nameof(offsets));
        int tokens = offsets[^1], width = heads * headDim;
        CheckRows(q.Length, tokens, width, ld, nameof(q));
        CheckRows(k.Length, tokens, width, ld, nameof(k));
        CheckRows(v.Length, tokens, width, ld, nameof(v));
        CheckRows(output.Length, tokens, width, ldOut, nameof(output));
        if (float.IsNaN(scale)) scale = DefaultScale(headDim);
        int batch = offsets.Length - 1;
        if (tokens == 0) return;

        unsafe
        {
            fixed (float* pq = q)
            fixed (float* pk = k)
            fixed (float* pv = v)
            fixed (float* po = output)
            fixed (int* poff = offsets)
            {
                float* qs = pq, ks = pk, vs = pv, os = po;
                int* offs = poff;
                int qLen = q.Length, kLen = k.Length, vLen = v.Length, oLen = output.Length;
                float s = scale;
                ctx.For(batch * heads, task =>
                {
                    int b = task / heads, h = task % heads;
                    int start = offs[b], length = offs[b + 1] - start;
                    if (length == 0) return;
                    beforePair?.Invoke(b, h, start, length);
                    long inAt = (long)start * ld + h * headDim, outAt = (long)start * ldOut + h * headDim;
                    Span<float> additive = default;
                    if (mask is not null)
                    {
                        additive = MaskBuffer(length * length);
                        mask(b, start, length, additive);
                    }
                    Head(new ReadOnlySpan<float>(qs + inAt, qLen - (int)inAt), ld, length,
                        new ReadOnlySpan<float>(ks + inAt, kLen - (int)inAt), new ReadOnlySpan<float>(vs + inAt, vLen - (int)inAt), ld, length,
                        headDim, s, ScoreBuffer(length * length), new Span<float>(os + outAt, oLen - (int)outAt), ldOut, additive);
                });
            }
        }
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
