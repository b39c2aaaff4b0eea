// Scaled dot-product self-attention, softmax(Q·Kᵀ·scale)·V, per head over a packed batch of sequences.
namespace Semblance.Numerics;

/// <summary>
/// Multi-head self-attention (Vaswani et al., 2017, "Attention Is All You Need"):
/// for each sequence and head, O = softmax(Q·Kᵀ / √d)·V over that sequence's own rows only.
/// </summary>
/// <remarks>
/// Inputs are row-major views with a row stride, so the output of a fused QKV projection [tokens, 3·hidden]
/// is used in place: pass <c>qkv</c>, <c>qkv[hidden..]</c>, <c>qkv[(2·hidden)..]</c> with stride 3·hidden.
/// Head h of token t occupies columns h·headDim .. (h+1)·headDim − 1 of its row, as in Hugging Face's
/// view(tokens, heads, headDim). Work is split over (sequence, head) pairs; each pair is computed by one
/// thread from its own rows, so results do not depend on the batch composition or the thread count.
/// Rotary or other position transforms are applied to Q and K by the caller beforehand.
/// </remarks>
public static class Attention
{
    /// <summary>Self-attention for every sequence of a packed batch; <paramref name="offsets"/> as in TokenBatch ([batch + 1], first 0).</summary>
    /// <param name="scale">Multiplier of Q·Kᵀ; NaN means 1/√headDim.</param>
    public static void MultiHead(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int ld, ReadOnlySpan<int> offsets,
        int heads, int headDim, Span<float> output, int ldOut, ComputeContext ctx, float scale = float.NaN)
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
        if (float.IsNaN(scale)) scale = 1f / MathF.Sqrt(headDim);
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
                    long inAt = (long)start * ld + h * headDim, outAt = (long)start * ldOut + h * headDim;
                    SingleHead(new ReadOnlySpan<float>(qs + inAt, qLen - (int)inAt), new ReadOnlySpan<float>(ks + inAt, kLen - (int)inAt),
                        new ReadOnlySpan<float>(vs + inAt, vLen - (int)inAt), ld, length, headDim,
                        new Span<float>(os + outAt, oLen - (int)outAt), ldOut, s);
                });
            }
        }
    }

    /// <summary>
    /// One head of one sequence: O[L, d] = softmax(scale·Q·Kᵀ)·V with Q, K, V, O given as [length, d] views with
    /// row strides. The L×L score matrix lives in a per-thread buffer that is reused across calls.
    /// </summary>
    public static void SingleHead(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int ld, int length, int headDim,
        Span<float> output, int ldOut, float scale)
    {
        if (length == 0) return;
        var scores = ScoreBuffer(length * length);
        Gemm.MultiplyABt(length, length, headDim, scale, q, ld, k, ld, scores, length);
        Kernels.SoftmaxRows(scores, length, length, length);
        Gemm.MultiplyAB(length, headDim, length, scores, length, v, ld, output, ldOut);
    }

    [ThreadStatic] private static float[]? _scores;

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
