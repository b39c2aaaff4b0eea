// Every tape operation's gradient against central finite differences, plus the tape's own bookkeeping.
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Training.Autodiff;

namespace Semblance.Tests.Training;

public class AutodiffTests
{
    private static readonly int[] Offsets = [0, 3, 4, 9];

    [Fact]
    public void AddScaleMeanSliceConcat()
    {
        var a = GradientCheck.Leaf(3, 4, 1);
        var b = GradientCheck.Leaf(3, 4, 2);
        var c = GradientCheck.Leaf(2, 4, 3);
        GradientCheck.Check(t => t.Add(a, b), [a, b]);
        GradientCheck.Check(t => t.Scale(a, -2.5f), [a]);
        GradientCheck.Check(t => t.Mean(t.Add(a, a)), [a]);
        GradientCheck.Check(t => t.SliceRows(a, 1, 2), [a]);
        GradientCheck.Check(t => t.ConcatColumns(a, b), [a, b]);
        GradientCheck.Check(t => t.ConcatRows(a, c), [a, c]);
    }

    [Fact]
    public void MatMulTransposedAndRowDot()
    {
        var a = GradientCheck.Leaf(5, 7, 4);
        var b = GradientCheck.Leaf(3, 7, 5);
        var c = GradientCheck.Leaf(5, 7, 6);
        GradientCheck.Check(t => t.MatMulTransposed(a, b), [a, b]);
        GradientCheck.Check(t => t.RowDot(a, c), [a, c]);
    }

    [Fact]
    public void EmbeddingScattersIntoUsedRows()
    {
        var table = GradientCheck.Leaf(6, 4, 7);
        int[] ids = [2, 0, 2, 5];
        GradientCheck.Check(t => t.Embedding(table, ids), [table]);
        var tape = new Tape();
        table.ZeroGrad();
        tape.Backward(tape.Mean(tape.Embedding(table, ids)));
        Assert.All(table.Grad!.AsSpan(4, 4).ToArray(), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void LinearWithPlainAndPackedWeights()
    {
        var x = GradientCheck.Leaf(40, 9, 8);
        var w = GradientCheck.Leaf(11, 9, 9);
        var b = GradientCheck.Leaf(1, 11, 10);
        GradientCheck.Check(t => t.Linear(x, w, b), [x, w, b]);
        GradientCheck.Check(t => t.Linear(x, w, null), [x, w]);
        var pw = new Parameter("dense.weight", [11, 9], GradientCheck.Random(99, 11));
        var pb = new Parameter("dense.bias", [11], GradientCheck.Random(11, 12));
        var small = GradientCheck.Leaf(4, 9, 13);
        // The packed copy must be refreshed whenever the check perturbs a weight.
        GradientCheck.Check(t => { pw.MarkUpdated(); return t.Linear(small, pw, pb); }, [small, pw, pb]);
    }

    [Fact]
    public void LinearMatchesAcrossThreadCounts()
    {
        var x = GradientCheck.Leaf(130, 33, 14);
        var w = GradientCheck.Leaf(17, 33, 15);
        using var two = new Semblance.Numerics.ComputeContext(2);
        var one = new Tape().Linear(x, w, null).Data;
        var many = new Tape(two).Linear(x, w, null).Data;
        Assert.Equal(one, many);
    }

    [Fact]
    public void LayerNormAndL2Normalize()
    {
        var x = GradientCheck.Leaf(4, 6, 16, 2.0);
        var gamma = GradientCheck.Leaf(1, 6, 17);
        var beta = GradientCheck.Leaf(1, 6, 18);
        GradientCheck.Check(t => t.LayerNorm(x, gamma, beta, 1e-12f), [x, gamma, beta]);
        GradientCheck.Check(t => t.L2Normalize(x), [x]);
    }

    [Fact]
    public void Activations()
    {
        // Kept away from 0 so ReLU's kink is never straddled by ±ε.
        var x = GradientCheck.Leaf(3, 8, 19, 3.0);
        for (int i = 0; i < x.Length; i++) if (Math.Abs(x.Data[i]) < 0.05f) x.Data[i] = 0.3f;
        GradientCheck.Check(t => t.Gelu(x), [x]);
        GradientCheck.Check(t => t.GeluTanh(x), [x]);
        GradientCheck.Check(t => t.Relu(x), [x]);
        GradientCheck.Check(t => t.Tanh(x), [x]);
        GradientCheck.Check(t => t.Sigmoid(x), [x]);
        GradientCheck.Check(t => t.Activation(x, HiddenActivation.Gelu), [x]);
    }

    [Fact]
    public void AttentionOverPackedSequences()
    {
        var q = GradientCheck.Leaf(9, 8, 20, 1.5);
        var k = GradientCheck.Leaf(9, 8, 21, 1.5);
        var v = GradientCheck.Leaf(9, 8, 22);
        GradientCheck.Check(t => t.Attention(q, k, v, Offsets, heads: 2), [q, k, v]);
    }

    [Fact]
    public void AttentionWithDropoutIsAFixedFunctionOfItsKeys()
    {
        var q = GradientCheck.Leaf(9, 8, 23, 1.5);
        var k = GradientCheck.Leaf(9, 8, 24, 1.5);
        var v = GradientCheck.Leaf(9, 8, 25);
        ulong[] keys = [11, 12, 13];
        GradientCheck.Check(t => t.Attention(q, k, v, Offsets, 2, 0.3f, keys, site: 4), [q, k, v]);
        var plain = new Tape().Attention(q, k, v, Offsets, 2).Data;
        var dropped = new Tape().Attention(q, k, v, Offsets, 2, 0.3f, keys, 4).Data;
        Assert.NotEqual(plain, dropped);
    }

    [Fact]
    public void AttentionIsPerSequence()
    {
        // A sequence's output must not change when other sequences join the batch.
        var q = GradientCheck.Leaf(9, 8, 26);
        var alone = new Tape().Attention(new Tape().SliceRows(q, 4, 5), new Tape().SliceRows(q, 4, 5), new Tape().SliceRows(q, 4, 5), [0, 5], 2).Data;
        var packed = new Tape().Attention(q, q, q, Offsets, 2).Data.AsSpan(4 * 8).ToArray();
        for (int i = 0; i < alone.Length; i++) Assert.Equal(alone[i], packed[i], 6);
    }

    [Fact]
    public void RotaryRotatesInterleavedPairsPerSequencePosition()
    {
        var x = GradientCheck.Leaf(9, 8, 27);
        var table = RotaryEmbedding.Compute(16, 4);
        GradientCheck.Check(t => t.Rotary(x, Offsets, 2, table), [x]);
        var y = new Tape().Rotary(x, Offsets, 2, table);
        // Position 0 of every sequence is unrotated; rotation keeps each pair's length.
        Assert.Equal(x.Row(3).ToArray(), y.Row(3).ToArray());
        float before = x.Data[5 * 8] * x.Data[5 * 8] + x.Data[5 * 8 + 1] * x.Data[5 * 8 + 1];
        float after = y.Data[5 * 8] * y.Data[5 * 8] + y.Data[5 * 8 + 1] * y.Data[5 * 8 + 1];
        Assert.Equal(before, after, 5);
        Assert.NotEqual(x.Data[5 * 8], y.Data[5 * 8]);
    }

    [Fact]
    public void DropoutIsSeededAndScaled()
    {
        var x = GradientCheck.Leaf(9, 8, 28);
        var keys = Enumerable.Range(0, 9).Select(i => (ulong)i * 7 + 1).ToArray();
        GradientCheck.Check(t => t.Dropout(x, 0.4f, keys, 3), [x]);
        var a = new Tape().Dropout(x, 0.4f, keys, 3).Data;
        var b = new Tape().Dropout(x, 0.4f, keys, 3).Data;
        var c = new Tape().Dropout(x, 0.4f, keys, 5).Data;
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        int zeros = a.Count(v => v == 0f);
        Assert.InRange(zeros, 10, 50);
        for (int i = 0; i < a.Length; i++) Assert.True(a[i] == 0f || Math.Abs(a[i] - x.Data[i] / 0.6f) < 1e-6f);
        Assert.Same(x, new Tape().Dropout(x, 0.4f, null, 3));
    }

    [Fact]
    public void Pooling()
    {
        var first = GradientCheck.Leaf(9, 4, 29);
        var last = GradientCheck.Leaf(9, 4, 30);
        GradientCheck.Check(t => t.Pool(PoolingMode.Mean, null, last, Offsets), [last]);
        GradientCheck.Check(t => t.Pool(PoolingMode.Cls, null, last, Offsets), [last]);
        GradientCheck.Check(t => t.Pool(PoolingMode.Max, null, last, Offsets), [last]);
        GradientCheck.Check(t => t.Pool(PoolingMode.FirstLastAvg, first, last, Offsets), [first, last]);
        var mean = new Tape().Pool(PoolingMode.Mean, null, last, Offsets);
        Assert.Equal((last.Data[0] + last.Data[4] + last.Data[8]) / 3, mean.Data[0], 6);
        Assert.Equal(last.Data[12], mean.Data[4], 6);
    }

    [Fact]
    public void LogSoftmaxAndCrossEntropy()
    {
        var x = GradientCheck.Leaf(4, 5, 31, 3.0);
        GradientCheck.Check(t => t.LogSoftmax(x), [x]);
        int[] targets = [0, 4, 2, 2];
        GradientCheck.Check(t => t.CrossEntropy(x, targets), [x]);
        var ce = new Tape().CrossEntropy(x, targets).Item;
        var ls = new Tape().LogSoftmax(x);
        double expected = -targets.Select((c, r) => (double)ls.Data[r * 5 + c]).Average();
        Assert.Equal(expected, ce, 5);
    }

    [Fact]
    public void GradientsAccumulateAcrossBackwardPasses()
    {
        var x = GradientCheck.Leaf(2, 3, 32);
        var tape = new Tape();
        tape.Backward(tape.Mean(x));
        tape.Backward(tape.Mean(x));
        Assert.All(x.Grad!, g => Assert.Equal(2f / 6, g, 6));
        Assert.Equal(0, tape.Count);
        var idle = new Tape(recording: false);
        var y = idle.Mean(x);
        Assert.False(y.RequiresGrad);
        Assert.Equal(0, idle.Count);
    }
}

public class GruTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GruMatchesFiniteDifferences(bool reverse) =>
        CheckGru(60, (t, gru) => gru(t, reverse));

    /// <summary>Finite differences of <paramref name="f"/> over a 7-row input in sequences of 3, 1 and 3 rows, all weights checked.</summary>
    private static void CheckGru(int seed, Func<Tape, Func<Tape, bool, Tensor>, Tensor> f)
    {
        int[] offsets = [0, 3, 4, 7];
        var x = GradientCheck.Leaf(7, 3, seed);
        var wih = GradientCheck.Leaf(12, 3, seed + 1);
        var whh = GradientCheck.Leaf(12, 4, seed + 2);
        var bih = GradientCheck.Leaf(1, 12, seed + 3, 0.5);
        var bhh = GradientCheck.Leaf(1, 12, seed + 4, 0.5);
        GradientCheck.Check(t => f(t, (tape, reverse) => tape.Gru(x, offsets, wih, whh, bih, bhh, reverse)), [x, wih, whh, bih, bhh]);
    }

    [Fact]
    public void FinalStatesOfAGruMatchFiniteDifferences() =>
        // The GRU's last-state pooling: each sequence's final row of each direction, gathered as an embedding lookup.
        CheckGru(70, (t, gru) => t.ConcatColumns(t.Embedding(gru(t, false), [2, 3, 6]), t.Embedding(gru(t, true), [0, 3, 4])));

    [Fact]
    public void GruRunsEachSequenceFromAZeroState()
    {
        var x = GradientCheck.Leaf(7, 3, 65);
        var wih = GradientCheck.Leaf(12, 3, 66);
        var whh = GradientCheck.Leaf(12, 4, 67);
        var b = GradientCheck.Leaf(1, 12, 68);
        var packed = new Tape().Gru(x, [0, 3, 4, 7], wih, whh, b, b, reverse: false);
        var alone = new Tape().Gru(new Tape().SliceRows(x, 4, 3), [0, 3], wih, whh, b, b, reverse: false);
        Assert.Equal(alone.Data, packed.Data.AsSpan(4 * 4).ToArray());
        // One step from h = 0: h = (1 − z)·n with n = tanh(W_in x + b_in + r·b_hn).
        float r = 1f / (1f + MathF.Exp(-(Dot(wih.Row(0), x.Row(0)) + 2 * b.Data[0])));
        float z = 1f / (1f + MathF.Exp(-(Dot(wih.Row(4), x.Row(0)) + 2 * b.Data[4])));
        float n = MathF.Tanh(Dot(wih.Row(8), x.Row(0)) + b.Data[8] + r * b.Data[8]);
        Assert.Equal((1 - z) * n, packed.Data[0], 5);
    }

    private static float Dot(Span<float> a, Span<float> b) => System.Numerics.Tensors.TensorPrimitives.Dot(a, b);
}
