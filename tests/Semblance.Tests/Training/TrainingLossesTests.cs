// The loss registry: one name per loss, its data format, its settings; and the shared training step.
using Semblance.Numerics;
using Semblance.Training;

namespace Semblance.Tests.Training;

public class TrainingLossesTests
{
    [Fact]
    public void NamesAreUniqueAndResolveToTheirLoss()
    {
        Assert.Equal(TrainingLosses.All.Count, TrainingLosses.Names.Distinct().Count());
        foreach (var loss in TrainingLosses.All) Assert.Same(loss, TrainingLosses.Get(loss.Name));
        var e = Assert.Throws<SemblanceException>(() => TrainingLosses.Get("triplet"));
        Assert.Equal("--loss: unknown loss 'triplet' for --task embedding; expected one of simcse|sup-simcse|cosent|am-softmax|flatnce|simbert|am-softmax-proxy", e.Message);

        // The pair-score (cross-encoder) losses: their own names, resolved only for their task.
        Assert.Equal(TrainingLosses.PairScoring.Count, TrainingLosses.PairScoring.Select(l => l.Name).Distinct().Count());
        foreach (var loss in TrainingLosses.PairScoring)
        {
            Assert.Same(loss, TrainingLosses.Get(loss.Name, TrainingTask.PairScore));
            Assert.Equal(TrainingTask.PairScore, loss.Task);
            Assert.True(loss.UsesScores);
        }
        Assert.NotSame(TrainingLosses.CoSent, TrainingLosses.Get("cosent", TrainingTask.PairScore));
        e = Assert.Throws<SemblanceException>(() => TrainingLosses.Get("simcse", TrainingTask.PairScore));
        Assert.Equal("--loss: unknown loss 'simcse' for --task pair-score; expected one of cosent|bce|mse|ce", e.Message);
    }

    [Fact]
    public void SettingsReachTheLoss()
    {
        var settings = new LossSettings(Temperature: 0.2f, Margin: 0.4f, Scale: 7f);
        Assert.Equal(7f, Assert.IsType<CoSentLoss>(TrainingLosses.CoSent.Create(settings)).Scale);
        Assert.Equal(7f, Assert.IsType<SimBertLoss>(TrainingLosses.SimBert.Create(settings)).Scale);
        Assert.Equal(30f, Assert.IsType<SimBertLoss>(TrainingLosses.SimBert.Create(new LossSettings())).Scale);
        Assert.Equal(20f, Assert.IsType<CoSentLoss>(TrainingLosses.CoSent.Create(new LossSettings())).Scale);
        var am = Assert.IsType<AmSoftmaxLoss>(TrainingLosses.AmSoftmax.Create(settings));
        Assert.Equal((0.4f, 7f), (am.Margin, am.Scale));
        Assert.Equal(0.2f, Assert.IsType<FlatNceLoss>(TrainingLosses.FlatNce.Create(settings)).Temperature);
        Assert.Equal(0.2f, Assert.IsType<SimCseLoss>(TrainingLosses.SupervisedSimCse.Create(settings)).Temperature);
        Assert.True(TrainingLosses.CoSent.UsesScores);
        Assert.False(TrainingLosses.SimCse.UsesScores);
    }

    [Fact]
    public void DataFormatFollowsTheLoss()
    {
        var scored = TrainingData.Parse(["a\tb\t4.5", "c\td\t1"], "t.tsv", TrainingLosses.CoSent);
        Assert.Equal(4.5f, scored.Rows[0].Score);
        var sentences = TrainingData.Parse(["a", "b"], "t.txt", TrainingLosses.FlatNce);
        Assert.Equal(["a", "a"], sentences.Rows[0].Texts);
        var e = Assert.Throws<InputFormatException>(() => TrainingData.Parse(["a\tb"], "t.tsv", TrainingLosses.SimCse));
        Assert.Contains("t.tsv:1", e.Message);
    }

    /// <summary>Two steps of the shared training step equal the GradCache gradient plus AdamW done by hand.</summary>
    [Fact]
    public void StepIsGradCacheThenClipThenAdamW()
    {
        var config = GradientCacheTests.TinyConfig();
        var sentences = GradientCacheTests.Sentences(6, 3);
        var rows = sentences.Select((s, i) => new TrainingRow([i.ToString(), i.ToString()])).ToArray();
        int[] Tokens(string text) => sentences[int.Parse(text)];

        var model = TrainableTransformer.Initialize(config, 5);
        var step = new TrainingStep(model, TrainingLosses.SimCse, new LossSettings(), Tokens, seed: 9, accumulate: 2);
        var result = step.Run(rows, 0, 1e-3, ComputeContext.Single);
        Assert.True(result.Updated);

        var reference = TrainableTransformer.Initialize(config, 5);
        var optimizer = new AdamW(reference.TrainableParameters());
        ulong stepKey = Semblance.Training.Autodiff.DropoutMask.Mix(Semblance.Training.Autodiff.DropoutMask.Mix(9UL) ^ 0UL);
        var keys = Enumerable.Range(0, 2).Select(c => Enumerable.Range(0, 6)
            .Select(r => Semblance.Training.Autodiff.DropoutMask.Mix(stepKey ^ ((ulong)c << 48) ^ (ulong)r)).ToArray()).ToArray();
        var value = GradientCache.Accumulate(reference, new SimCseLoss(), [sentences, sentences], null, keys, 2, Semblance.Embeddings.PoolingMode.Mean, ComputeContext.Single);
        Assert.Equal(value.Reported, result.Loss);
        Assert.Equal(optimizer.ClipGradientNorm(1.0), result.GradientNorm);
        optimizer.Update(1e-3);
        foreach (var (a, b) in model.Parameters.Zip(reference.Parameters)) Assert.Equal(b.Data, a.Data);
        Assert.All(model.Parameters, p => Assert.True(p.Grad is null || p.Grad.All(g => g == 0)));
    }
}
