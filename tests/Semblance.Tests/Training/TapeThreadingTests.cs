// A whole SimCSE step's gradients (dropout on, large enough that every element-wise step splits) are the same bits on 1 and 2 threads.
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Numerics;
using Semblance.Training;

namespace Semblance.Tests.Training;

public class TapeThreadingTests
{
    private static Dictionary<string, float[]> Gradients(ComputeContext context)
    {
        var config = new TransformerConfig
        {
            ModelType = "bert", VocabSize = 120, HiddenSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 256,
            MaxPositionEmbeddings = 64, HiddenDropoutProb = 0.1, AttentionProbsDropoutProb = 0.1, InitializerRange = 0.1,
        };
        var model = TrainableTransformer.Initialize(config, seed: 9);
        var rng = new Random(10);
        var sentences = Enumerable.Range(0, 24).Select(_ =>
            new[] { 1 }.Concat(Enumerable.Range(0, rng.Next(10, 40)).Select(_ => rng.Next(3, 120))).Append(2).ToArray()).ToList();
        var keys = new[] { Enumerable.Range(0, 24).Select(i => (ulong)i * 7 + 1).ToArray(), Enumerable.Range(0, 24).Select(i => (ulong)i * 7 + 2).ToArray() };
        // Two steps' worth into the same gradients: the second adds to (rather than overwrites) the first.
        for (int pass = 0; pass < 2; pass++)
            GradientCache.Accumulate(model, new SimCseLoss(0.05f), [sentences, sentences], null, keys, 1, PoolingMode.Mean, context);
        return model.Trainable.Where(p => p.Grad is not null).ToDictionary(p => p.Name, p => p.Grad!.ToArray());
    }

    [Fact]
    public void GradientsDoNotDependOnTheThreadCount()
    {
        var one = Gradients(ComputeContext.Single);
        using var two = new ComputeContext(2);
        var many = Gradients(two);
        Assert.Equal(one.Keys.Order(), many.Keys.Order());
        Assert.Contains(one.Values, g => g.Any(v => v != 0f));
        foreach (var (name, g) in one) Assert.True(g.AsSpan().SequenceEqual(many[name]), name);
    }
}
