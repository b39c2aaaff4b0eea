// Attention.MultiHead over packed sequences against a double reference, and its independence of batch and threads.
using Semblance.Numerics;

namespace Semblance.Tests.Numerics;

public class AttentionTests
{
    private const int Heads = 3, HeadDim = 16, Hidden = Heads * HeadDim, Ld = 3 * Hidden;

    private static double[] Reference(float[] qkv, int[] offsets)
    {
        int tokens = offsets[^1];
        var output = new double[tokens * Hidden];
        double scale = 1 / Math.Sqrt(HeadDim);
        for (int b = 0; b + 1 < offsets.Length; b++)
            for (int h = 0; h < Heads; h++)
                for (int i = offsets[b]; i < offsets[b + 1]; i++)
                {
                    var scores = new double[offsets[b + 1] - offsets[b]];
                    for (int j = 0; j < scores.Length; j++)
                    {
                        double dot = 0;
                        for (int d = 0; d < HeadDim; d++)
                            dot += (double)qkv[i * Ld + h * HeadDim + d] * qkv[(offsets[b] + j) * Ld + Hidden + h * HeadDim + d];
                        scores[j] = dot * scale;
                    }
                    double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
                    for (int d = 0; d < HeadDim; d++)
                    {
                        double acc = 0;
                        for (int j = 0; j < scores.Length; j++)
                            acc += Math.Exp(scores[j] - max) / sum * qkv[(offsets[b] + j) * Ld + 2 * Hidden + h * HeadDim + d];
                        output[i * Hidden + h * HeadDim + d] = acc;
                    }
                }
        return output;
    }

    private static float[] Run(float[] qkv, int[] offsets, ComputeContext ctx)
    {
        var output = new float[offsets[^1] * Hidden];
        Attention.MultiHead(qkv, qkv.AsSpan(Hidden), qkv.AsSpan(2 * Hidden), Ld, offsets, Heads, HeadDim, output, Hidden, ctx);
        return output;
    }

    [Fact]
    public void MatchesDoubleReferenceAndIsIndependentOfBatchAndThreads()
    {
        int[] lengths = [5, 17, 1, 0, 40];
        var offsets = new int[lengths.Length + 1];
        for (int b = 0; b < lengths.Length; b++) offsets[b + 1] = offsets[b] + lengths[b];
        var qkv = NumericsTestData.Random(offsets[^1] * Ld, 21, 2f);

        var single = Run(qkv, offsets, ComputeContext.Single);
        var expected = Reference(qkv, offsets);
        for (int i = 0; i < single.Length; i++) Assert.Equal(expected[i], single[i], 1e-5);

        using (var ctx = new ComputeContext(2)) Assert.Equal(single, Run(qkv, offsets, ctx));

        // Sequence 4 alone, as the only member of a batch.
        var alone = Run(qkv.AsSpan(offsets[4] * Ld, lengths[4] * Ld).ToArray(), [0, lengths[4]], ComputeContext.Single);
        Assert.Equal(single.AsSpan(offsets[4] * Hidden, lengths[4] * Hidden).ToArray(), alone);
    }

    [Fact]
    public void RejectsInconsistentShapes()
    {
        var qkv = new float[4 * Ld];
        var output = new float[4 * Hidden];
        Assert.Throws<ArgumentException>(() => Attention.MultiHead(qkv, qkv, qkv, Ld, [1, 4], Heads, HeadDim, output, Hidden, ComputeContext.Single));
        Assert.Throws<ArgumentException>(() => Attention.MultiHead(qkv, qkv, qkv, Ld, [0, 5], Heads, HeadDim, output, Hidden, ComputeContext.Single));
        Assert.Throws<ArgumentException>(() => Attention.MultiHead(qkv, qkv, qkv, Hidden - 1, [0, 4], Heads, HeadDim, output, Hidden, ComputeContext.Single));
    }

    /// <summary>
    /// The kernel's other uses: one query row against all keys (a KV-cache step) gives that row of full attention
    /// bit for bit, and an additive −∞ mask on keys gives attention over the remaining keys.
    /// </summary>
    [Fact]
    public void HeadServesCachedStepsAndAdditiveMasks()
    {
        const int t = 9, d = HeadDim;
        var q = NumericsTestData.Random(t * d, 41, 2f);
        var k = NumericsTestData.Random(t * d, 42, 2f);
        var v = NumericsTestData.Random(t * d, 43, 2f);
        float scale = Attention.DefaultScale(d);
        var full = new float[t * d];
        var p = new float[t * t];
        Attention.Head(q, d, t, k, v, d, t, d, scale, p, full, d);

        var step = new float[d];
        Attention.Head(q.AsSpan((t - 1) * d), d, 1, k, v, d, t, d, scale, new float[t], step, d);
        Assert.Equal(full.AsSpan((t - 1) * d, d).ToArray(), step);

        // Mask out keys 5.. for every query: equals attention against keys 0..4 only.
        var mask = new float[t * t];
        for (int i = 0; i < t; i++)
            for (int j = 5; j < t; j++) mask[i * t + j] = float.NegativeInfinity;
        var masked = new float[t * d];
        Attention.Head(q, d, t, k, v, d, t, d, scale, p, masked, d, mask);
        var shorter = new float[t * d];
        Attention.Head(q, d, t, k, v, d, 5, d, scale, new float[t * 5], shorter, d);
        for (int i = 0; i < masked.Length; i++) Assert.Equal(shorter[i], masked[i], 1e-6f);
        for (int i = 0; i < t; i++) Assert.Equal(0f, p[i * t + 7]);

        // Dropout factors: O = (P ⊙ m)·V and the factors are overwritten with P ⊙ m.
        var factors = Enumerable.Range(0, t * t).Select(i => i % 3 == 0 ? 0f : 1.5f).ToArray();
        var dropped = new float[t * d];
        Attention.Head(q, d, t, k, v, d, t, d, scale, p, dropped, d, dropout: factors);
        for (int i = 0; i < t * t; i++) Assert.Equal(i % 3 == 0 ? 0f : p[i] * 1.5f, factors[i]);
        var reference = new float[t * d];
        Gemm.MultiplyAB(t, d, t, factors, t, v, d, reference, d);
        Assert.Equal(reference, dropped);
    }
}
