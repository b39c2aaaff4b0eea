// AdamW against a double-precision reference, parameter groups, clipping and the warm-up/decay schedule.
using Semblance.Training;
using Semblance.Training.Autodiff;

namespace Semblance.Tests.Training;

public class OptimizerTests
{
    [Fact]
    public void AdamWMatchesTheReferenceUpdateAndSkipsDecayOnBiases()
    {
        var weight = new Parameter("dense.weight", [2, 3], [0.5f, -1f, 2f, 0.1f, 0f, -0.3f]);
        var bias = new Parameter("dense.bias", [2], [0.2f, -0.2f]);
        var frozen = new Parameter("table", [2], [1f, 1f], trainable: false);
        var opt = new AdamW([weight, bias, frozen], weightDecay: 0.1, beta1: 0.9, beta2: 0.99, epsilon: 1e-6);
        Assert.Equal(2, opt.Parameters.Count);
        Assert.True(AdamW.Decays(weight));
        Assert.False(AdamW.Decays(bias));

        var w = weight.Data.Select(v => (double)v).ToArray();
        var b = bias.Data.Select(v => (double)v).ToArray();
        var mw = new double[6]; var vw = new double[6]; var mb = new double[2]; var vb = new double[2];
        for (int step = 1; step <= 3; step++)
        {
            var gw = GradientCheck.Random(6, 50 + step);
            var gb = GradientCheck.Random(2, 60 + step);
            gw.CopyTo(weight.GradBuffer(), 0);
            gb.CopyTo(bias.GradBuffer(), 0);
            double lr = 0.01 * step;
            opt.Update(lr);
            Reference(w, gw, mw, vw, lr, 0.1, step);
            Reference(b, gb, mb, vb, lr, 0.0, step);
        }
        for (int i = 0; i < 6; i++) Assert.Equal(w[i], weight.Data[i], 5);
        for (int i = 0; i < 2; i++) Assert.Equal(b[i], bias.Data[i], 5);
        Assert.Equal([1f, 1f], frozen.Data);
        Assert.Equal(3, opt.Step);
    }

    [Fact]
    public void TheTokenEmbeddingTableLearnsAtItsOwnRate()
    {
        var table = new Parameter("embeddings.word_embeddings.weight", [2, 2], [0.5f, -1f, 2f, 0.1f]);
        var dense = new Parameter("encoder.layer.0.dense.weight", [2, 2], [0.5f, -1f, 2f, 0.1f]);
        var gru = new Parameter("embeddings.weight", [1, 2], [0.5f, -1f]);
        Assert.True(AdamW.IsTokenEmbedding(table));
        Assert.True(AdamW.IsTokenEmbedding(gru));
        Assert.False(AdamW.IsTokenEmbedding(dense));
        var opt = new AdamW([table, dense], weightDecay: 0.1, beta1: 0.9, beta2: 0.99, epsilon: 1e-6,
            learningRateFactor: p => AdamW.IsTokenEmbedding(p) ? 10 : 1);
        var wt = table.Data.Select(v => (double)v).ToArray();
        var wd = dense.Data.Select(v => (double)v).ToArray();
        var mt = new double[4]; var vt = new double[4]; var md = new double[4]; var vd = new double[4];
        for (int step = 1; step <= 3; step++)
        {
            var g = GradientCheck.Random(4, 70 + step);
            g.CopyTo(table.GradBuffer(), 0);
            g.CopyTo(dense.GradBuffer(), 0);
            opt.Update(0.001);
            Reference(wt, g, mt, vt, 0.01, 0.1, step);
            Reference(wd, g, md, vd, 0.001, 0.1, step);
        }
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(wt[i], table.Data[i], 5);
            Assert.Equal(wd[i], dense.Data[i], 5);
        }
        Assert.NotEqual(table.Data, dense.Data);
    }

    private static void Reference(double[] w, float[] g, double[] m, double[] v, double lr, double decay, int t)
    {
        for (int i = 0; i < w.Length; i++)
        {
            m[i] = 0.9 * m[i] + 0.1 * g[i];
            v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i];
            w[i] -= lr * decay * w[i];
            w[i] -= lr * (m[i] / (1 - Math.Pow(0.9, t))) / (Math.Sqrt(v[i] / (1 - Math.Pow(0.99, t))) + 1e-6);
        }
    }

    [Fact]
    public void ClippingScalesTheGlobalNorm()
    {
        var a = new Parameter("a.weight", [1, 2], [0f, 0f]);
        var b = new Parameter("b.weight", [1, 1], [0f]);
        a.GradBuffer()[0] = 3f;
        a.GradBuffer()[1] = 0f;
        b.GradBuffer()[0] = 4f;
        var opt = new AdamW([a, b]);
        Assert.Equal(5.0, opt.ClipGradientNorm(1.0), 6);
        Assert.Equal(1.0, opt.GradientNorm(), 5);
        Assert.Equal(0.6f, a.Grad![0], 5);
        Assert.Equal(1.0, opt.ClipGradientNorm(10.0), 5);
        Assert.Equal(0.6f, a.Grad![0], 5);
    }

    [Fact]
    public void ALearningRateFactorScalesOnlyTheParametersItNames()
    {
        // Same gradients, one optimizer with the head at 10x: the head's update (step and decay) is 10x the other's,
        // the encoder's is unchanged.
        Parameter Head() => new("cls.predictions.transform.dense.weight", [1, 2], [0.5f, -0.5f]);
        Parameter Body() => new("encoder.weight", [1, 2], [0.25f, 1f]);
        var (h1, b1, h2, b2) = (Head(), Body(), Head(), Body());
        var plain = new AdamW([h1, b1], weightDecay: 0.1);
        var scaled = new AdamW([h2, b2], weightDecay: 0.1,
            learningRateFactor: p => p.Name.StartsWith(Semblance.Models.MaskedLmHead.Prefix, StringComparison.Ordinal) ? 10 : 1);
        foreach (var p in new[] { h1, b1, h2, b2 })
        {
            p.GradBuffer()[0] = 0.3f;
            p.GradBuffer()[1] = -2f;
        }
        plain.Update(1e-3);
        scaled.Update(1e-3);
        Assert.Equal(b1.Data, b2.Data);
        for (int i = 0; i < 2; i++)
            Assert.Equal(10 * (Head().Data[i] - h1.Data[i]), Head().Data[i] - h2.Data[i], 5);
        Assert.NotEqual(Head().Data[0], h1.Data[0]);
    }

    [Fact]
    public void StateRoundTripsSoResumedRunsMatch()
    {
        Parameter Make() => new("w.weight", [1, 3], [1f, 2f, 3f]);
        var a = Make();
        var b = Make();
        var optA = new AdamW([a]);
        var optB = new AdamW([b]);
        a.GradBuffer()[0] = 1f;
        b.GradBuffer()[0] = 1f;
        optA.Update(0.1);
        optB.Update(0.1);
        var resumed = new AdamW([b]);
        resumed.Restore(optB.Step, optB.State.Select(s => (s.Name, s.M.ToArray(), s.V.ToArray())));
        a.GradBuffer()[1] = -2f;
        b.GradBuffer()[1] = -2f;
        optA.Update(0.05);
        resumed.Update(0.05);
        Assert.Equal(a.Data, b.Data);
    }

    [Fact]
    public void ScheduleWarmsUpThenDecaysLinearly()
    {
        var s = new LearningRateSchedule(1e-3, 10, 110);
        Assert.Equal(0, s.At(0));
        Assert.Equal(5e-4, s.At(5), 12);
        Assert.Equal(1e-3, s.At(10), 12);
        Assert.Equal(5e-4, s.At(60), 12);
        Assert.Equal(0, s.At(110));
        Assert.Equal(0, s.At(200));
        Assert.Equal(1e-3, new LearningRateSchedule(1e-3, 0, 10).At(0));
    }
}
