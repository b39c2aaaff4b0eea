// The sentence-embedding losses: values against their formulas in double, gradients against finite differences.
using Semblance.Training;
using Semblance.Training.Autodiff;

namespace Semblance.Tests.Training;

public class LossTests
{
    private static readonly float[] Scores = [3.6f, 2.2f, 4.8f, 1.6f, 1.6f, 0.4f];

    private static double Cos(Tensor a, int i, Tensor b, int j)
    {
        double dot = 0, na = 0, nb = 0;
        for (int c = 0; c < a.Cols; c++)
        {
            dot += (double)a.Data[i * a.Cols + c] * b.Data[j * b.Cols + c];
            na += (double)a.Data[i * a.Cols + c] * a.Data[i * a.Cols + c];
            nb += (double)b.Data[j * b.Cols + c] * b.Data[j * b.Cols + c];
        }
        return dot / Math.Sqrt(na * nb);
    }

    private static double LogSumExp(IEnumerable<double> values)
    {
        var v = values.ToArray();
        double max = v.Max();
        return max + Math.Log(v.Sum(x => Math.Exp(x - max)));
    }

    [Fact]
    public void CoSentMatchesItsFormulaAndFiniteDifferences()
    {
        var a = GradientCheck.Leaf(6, 5, 40);
        var b = GradientCheck.Leaf(6, 5, 41);
        var loss = new CoSentLoss(20f);
        var terms = new List<double> { 0 };
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
                if (Scores[i] > Scores[j]) terms.Add(20 * (Cos(a, j, b, j) - Cos(a, i, b, i)));
        Assert.Equal(LogSumExp(terms), loss.Compute(new Tape(), [a, b], Scores).Reported, 4);
        GradientCheck.Check(t => loss.Compute(t, [a, b], Scores).Objective, [a, b], eps: 1e-3);
    }

    [Fact]
    public void SimCseInBatchAndWithHardNegatives()
    {
        var a = GradientCheck.Leaf(4, 5, 42);
        var p = GradientCheck.Leaf(4, 5, 43);
        var h = GradientCheck.Leaf(4, 5, 44);
        var loss = new SimCseLoss(0.5f);
        double expected = 0, expectedHard = 0;
        for (int i = 0; i < 4; i++)
        {
            var row = Enumerable.Range(0, 4).Select(j => Cos(a, i, p, j) / 0.5).ToList();
            expected += LogSumExp(row) - row[i];
            var hard = row.Concat(Enumerable.Range(0, 4).Select(j => Cos(a, i, h, j) / 0.5)).ToList();
            expectedHard += LogSumExp(hard) - row[i];
        }
        Assert.Equal(expected / 4, loss.Compute(new Tape(), [a, p], null).Reported, 4);
        Assert.Equal(expectedHard / 4, loss.Compute(new Tape(), [a, p, h], null).Reported, 4);
        GradientCheck.Check(t => loss.Compute(t, [a, p], null).Objective, [a, p], eps: 1e-3);
        GradientCheck.Check(t => loss.Compute(t, [a, p, h], null).Objective, [a, p, h], eps: 1e-3);
    }

    [Fact]
    public void AmSoftmaxAppliesTheMarginToTheTruePairInBothDirections()
    {
        var a = GradientCheck.Leaf(4, 5, 45);
        var p = GradientCheck.Leaf(4, 5, 46);
        var loss = new AmSoftmaxLoss(margin: 0.3f, scale: 5f);
        double expected = 0;
        for (int i = 0; i < 4; i++)
        {
            var forward = Enumerable.Range(0, 4).Select(j => 5 * (Cos(a, i, p, j) - (i == j ? 0.3 : 0))).ToList();
            var backward = Enumerable.Range(0, 4).Select(j => 5 * (Cos(p, i, a, j) - (i == j ? 0.3 : 0))).ToList();
            expected += 0.5 * (LogSumExp(forward) - forward[i] + LogSumExp(backward) - backward[i]);
        }
        Assert.Equal(expected / 4, loss.Compute(new Tape(), [a, p], null).Reported, 4);
        GradientCheck.Check(t => loss.Compute(t, [a, p], null).Objective, [a, p], eps: 1e-3);
        Assert.True(loss.Reported(a, p) > new AmSoftmaxLoss(0f, 5f).Reported(a, p));
    }

    [Fact]
    public void FlatNceReportsInfoNceAndFollowsTheNegativesLogSumExp()
    {
        var a = GradientCheck.Leaf(5, 4, 47);
        var b = GradientCheck.Leaf(5, 4, 48);
        var flat = new FlatNceLoss(0.5f);
        var value = flat.Compute(new Tape(), [a, b], null);
        Assert.Equal(0f, value.Objective.Item);
        Assert.Equal(new SimCseLoss(0.5f).Compute(new Tape(), [a, b], null).Reported, value.Reported, 4);
        // The gradient is that of mean_i log Σ_{j≠i} exp(l_ij − l_ii), whose finite differences are well defined.
        var logits = GradientCheck.Leaf(5, 5, 49, 3.0);
        var tape = new Tape();
        tape.Backward(FlatNceLoss.Objective(tape, logits).Objective);
        var analytic = logits.Grad!.ToArray();
        double Surrogate()
        {
            double sum = 0;
            for (int i = 0; i < 5; i++)
                sum += LogSumExp(Enumerable.Range(0, 5).Where(j => j != i).Select(j => (double)logits.Data[i * 5 + j] - logits.Data[i * 5 + i]));
            return sum / 5;
        }
        for (int k = 0; k < 25; k++)
        {
            float saved = logits.Data[k];
            logits.Data[k] = saved + 1e-2f;
            double plus = Surrogate();
            logits.Data[k] = saved - 1e-2f;
            double minus = Surrogate();
            logits.Data[k] = saved;
            Assert.Equal((plus - minus) / 2e-2, analytic[k], 3);
        }
    }
}

internal static class LossExtensions
{
    public static double Reported(this EmbeddingLoss loss, Tensor a, Tensor b) => loss.Compute(new Tape(recording: false), [a, b], null).Reported;
}
