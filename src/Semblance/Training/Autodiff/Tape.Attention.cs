// Tape multi-head self-attention over packed sequences, and RoFormer's rotary position embedding.
using System.Numerics.Tensors;
using Semblance.Numerics;

namespace Semblance.Training.Autodiff;

internal sealed partial class Tape
{
    /// <summary>
    /// Per sequence s (rows offsets[s] .. offsets[s+1]−1, no padding) and head h (columns h·d .. h·d+d−1):
    /// P = softmax(Q·Kᵀ/√d), P̃ = dropout(P), O = P̃·V (the forward is <see cref="Numerics.Attention.Head"/>, the kernel inference runs). Backward, with D = dO·Vᵀ ⊙ mask/(1−p):
    /// dV = P̃ᵀ·dO, dS = P ⊙ (D − rowsum(D ⊙ P)), dQ = dS·K/√d, dK = dSᵀ·Q/√d.
    /// Attention dropout element (h, i, j) of sequence s is keyed by sequenceKeys[s]; null keys or p = 0 mean none.
    /// <paramref name="mask"/> (e.g. <see cref="Models.Seq2SeqMask.For"/>) adds a per-sequence 0/−∞ mask to the scores
    /// before the softmax; masked entries of P are then 0, so the same backward holds (their dS is P ⊙ ... = 0).
    /// </summary>
    public Tensor Attention(Tensor q, Tensor k, Tensor v, int[] offsets, int heads, float dropout = 0f, ulong[]? sequenceKeys = null, int site = 0,
        Numerics.Attention.SequenceMask? mask = null)
    {
        SameShape(q, k);
        SameShape(q, v);
        int n = q.Rows, width = q.Cols;
        if (width % heads != 0) throw new ArgumentException($"Attention: {width} columns do not split into {heads} heads");
        if (offsets.Length == 0 || offsets[0] != 0 || offsets[^1] != n) throw new ArgumentException("Attention: offsets must run from 0 to the row count", nameof(offsets));
        int d = width / heads, sequences = offsets.Length - 1, pairs = sequences * heads;
        float scale = Numerics.Attention.DefaultScale(d);
        bool drop = dropout > 0f && sequenceKeys is not null;
        if (drop && sequenceKeys!.Length != sequences) throw new ArgumentException($"Attention: {sequenceKeys.Length} sequence keys for {sequences} sequences", nameof(sequenceKeys));
        float keep = drop ? 1f / (1f - dropout) : 1f;
        var probs = new float[pairs][];
        var y = new float[n * width];

        ForPairs(pairs, pair =>
        {
            int s = pair / heads, h = pair % heads, r0 = offsets[s], t = offsets[s + 1] - r0;
            if (t == 0) return;
            int off = r0 * width + h * d;
            var p = probs[pair] = new float[t * t];
            var dropped = drop ? Mask(t, sequenceKeys![s], site, h, dropout, keep) : default(Span<float>);
            var additive = default(Span<float>);
            if (mask is not null)
            {
                additive = new float[t * t];
                mask(s, r0, t, additive);
            }
            Numerics.Attention.Head(q.Data.AsSpan(off), width, t, k.Data.AsSpan(off), v.Data.AsSpan(off), width, t, d, scale, p, y.AsSpan(off), width, additive, dropped);
        });

        var result = new Tensor(y, n, width, Tracks(q, k, v));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                var gq = q.RequiresGrad ? q.GradBuffer() : null;
                var gk = k.RequiresGrad ? k.GradBuffer() : null;
                var gv = v.RequiresGrad ? v.GradBuffer() : null;
                ForPairs(pairs, pair =>
                {
                    int s = pair / heads, h = pair % heads, r0 = offsets[s], t = offsets[s + 1] - r0;
                    if (t == 0) return;
                    int off = r0 * width + h * d;
                    var p = probs[pair];
                    var dropMask = drop ? Mask(t, sequenceKeys![s], site, h, dropout, keep) : null;
                    var used = p;
                    if (dropMask is not null)
                    {
                        used = new float[p.Length];
                        TensorPrimitives.Multiply(dropMask, p, used);
                    }
                    var tmp = new float[t * d];
                    var square = new float[t * t];
                    if (gv is not null)
                    {
                        TrainingGemm.Transpose(used, t, t, square);
                        Gemm.MultiplyAB(t, d, t, square, t, g.AsSpan(off), width, tmp, d);
                        AddStrided(tmp, t, d, gv.AsSpan(off), width, 1f);
                    }
                    if (gq is null && gk is null) return;
                    var ds = new float[t * t];
                    Gemm.MultiplyABt(t, t, d, 1f, g.AsSpan(off), width, v.Data.AsSpan(off), width, ds, t);
                    if (dropMask is not null) TensorPrimitives.Multiply(ds, dropMask, ds);
                    for (int i = 0; i < t; i++)
                    {
                        var dRow = ds.AsSpan(i * t, t);
                        var pRow = p.AsSpan(i * t, t);
                        float dot = TensorPrimitives.Dot(dRow, pRow);
                        for (int j = 0; j < t; j++) dRow[j] = pRow[j] * (dRow[j] - dot);
                    }
                    if (gq is not null)
                    {
                        Gemm.MultiplyAB(t, d, t, ds, t, k.Data.AsSpan(off), width, tmp, d);
                        AddStrided(tmp, t, d, gq.AsSpan(off), width, scale);
                    }
                    if (gk is not null)
                    {
                        TrainingGemm.Transpose(ds, t, t, square);
                        Gemm.MultiplyAB(t, d, t, square, t, q.Data.AsSpan(off), width, tmp, d);
                        AddStrided(tmp, t, d, gk.AsSpan(off), width, scale);
                    }
                });
            });
        return result;
    }

    /// <summary>
    /// RoFormer's rotation of interleaved pairs (x_{2j}, x_{2j+1}) of every head by angle p·θ_j, p the position inside
    /// the sequence: x′_{2j} = x_{2j}cos − x_{2j+1}sin, x′_{2j+1} = x_{2j+1}cos + x_{2j}sin. <paramref name="table"/> is
    /// [positions, d] = [sin θ_0.. | cos θ_0..]. The backward step rotates the gradient by the opposite angle.
    /// </summary>
    public Tensor Rotary(Tensor x, int[] offsets, int heads, float[] table)
    {
        int width = x.Cols, d = width / heads;
        var y = new float[x.Length];
        Rotate(x.Data, y, offsets, width, heads, d, table, 1f);
        var result = new Tensor(y, x.Rows, width, Tracks(x));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                var back = new float[g.Length];
                Rotate(g, back, offsets, width, heads, d, table, -1f);
                x.AccumulateGrad(back);
            });
        return result;
    }

    private static void Rotate(float[] x, float[] y, int[] offsets, int width, int heads, int d, float[] table, float direction)
    {
        x.CopyTo(y, 0);
        for (int s = 0; s + 1 < offsets.Length; s++)
            for (int h = 0; h < heads; h++)
                Models.RotaryEmbedding.Rotate(table, d, y.AsSpan(offsets[s] * width + h * d), offsets[s + 1] - offsets[s], width, direction);
    }

    /// <summary>The t×t attention-dropout mask of one head: 0 or 1/(1 − p).</summary>
    private static float[] Mask(int t, ulong key, int site, int head, float dropout, float keep)
    {
        var mask = new float[t * t];
        DropoutMask.Fill(key, site, (long)head << 32, dropout, keep, mask);
        return mask;
    }

    private static void AddStrided(float[] src, int rows, int cols, Span<float> dst, int stride, float scale)
    {
        for (int r = 0; r < rows; r++)
        {
            var target = dst.Slice(r * stride, cols);
            TensorPrimitives.MultiplyAdd(src.AsSpan(r * cols, cols), scale, target, target);
        }
    }

    /// <summary>Runs (sequence, head) pairs over the context's threads (handed out dynamically); each pair owns disjoint rows × columns.</summary>
    private void ForPairs(int pairs, Action<int> body) => Context.For(pairs, body);
}
