// Chunked GradCache accumulation gives the full-batch gradient of a contrastive loss, dropout included.
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Numerics;
using Semblance.Training;

namespace Semblance.Tests.Training;

public class GradientCacheTests
{
    internal static TransformerConfig TinyConfig(string type = "bert") => new()
    {
        ModelType = type, VocabSize = 50, HiddenSize = 16, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 24,
        MaxPositionEmbeddings = 16, EmbeddingSize = 16, HiddenDropoutProb = 0.1, AttentionProbsDropoutProb = 0.1, InitializerRange = 0.3,
    };

    internal static List<int[]> Sentences(int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
            new[] { 1 }.Concat(Enumerable.Range(0, rng.Next(1, 9)).Select(_ => rng.Next(3, 50))).Append(2).ToArray()).ToList();
    }

    private static Dictionary<string, float[]> Gradients(TrainableTransformer model, EmbeddingLoss loss, List<int[]>[] columns, ulong[][]? keys, int chunks, out double value)
    {
        model.ZeroGrad();
        value = GradientCache.Accumulate(model, loss, columns, null, keys, chunks, PoolingMode.Mean, ComputeContext.Single).Reported;
        return model.Trainable.Where(p => p.Grad is not null).ToDictionary(p => p.Name, p => p.Grad!.ToArray());
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("roformer")]
    public void ChunkedEqualsFullBatchWithDropout(string type)
    {
        var model = TrainableTransformer.Initialize(TinyConfig(type), seed: 3);
        var sentences = Sentences(7, 4);
        var keys = new[] { Enumerable.Range(0, 7).Select(i => (ulong)i + 100).ToArray(), Enumerable.Range(0, 7).Select(i => (ulong)i + 200).ToArray() };
        var columns = new[] { sentences, sentences };
        var loss = new SimCseLoss(0.05f);
        var full = Gradients(model, loss, columns, keys, 1, out double fullLoss);
        var chunked = Gradients(model, loss, columns, keys, 3, out double chunkedLoss);
        Assert.Equal(fullLoss, chunkedLoss, 5);
        Assert.Equal(full.Keys.ToHashSet(), chunked.Keys.ToHashSet());
        float largest = full.Values.Max(g => g.Max(Math.Abs)), worst = full.Keys.Max(k => Models.Compare.MaxAbs(full[k], chunked[k]));
        Assert.True(largest > 1e-3f);
        Assert.True(worst <= 1e-5f * Math.Max(1f, largest), $"chunked vs full: {worst} (largest gradient {largest})");
        // Dropout is on: the two views of a sentence differ, and chunking per se does not change the masks.
        Assert.True(fullLoss > 0);

        // Summing per-chunk losses (naive accumulation) is a different gradient, which is why GradCache is needed.
        model.ZeroGrad();
        foreach (var part in new[] { (0, 3), (3, 4) })
        {
            var sub = sentences.Skip(part.Item1).Take(part.Item2).ToList();
            GradientCache.Accumulate(model, loss, [sub, sub], null, [keys[0][part.Item1..(part.Item1 + part.Item2)], keys[1][part.Item1..(part.Item1 + part.Item2)]], 1, PoolingMode.Mean, ComputeContext.Single);
        }
        var naive = model.Trainable.Where(p => p.Grad is not null).ToDictionary(p => p.Name, p => p.Grad!.ToArray());
        Assert.True(full.Keys.Max(k => Models.Compare.MaxAbs(full[k], naive[k])) > 100 * worst + 1e-4f);
    }

    [Fact]
    public void ChunkedCoSentWithScoresEqualsFullBatch()
    {
        var model = TrainableTransformer.Initialize(TinyConfig(), seed: 5);
        var a = Sentences(6, 6);
        var b = Sentences(6, 7);
        float[] scores = [0.5f, 4f, 2f, 3f, 1f, 2.5f];
        var loss = new CoSentLoss();
        model.ZeroGrad();
        GradientCache.Accumulate(model, loss, [a, b], scores, null, 1, PoolingMode.Cls, ComputeContext.Single);
        var full = model.Trainable.Where(p => p.Grad is not null).ToDictionary(p => p.Name, p => p.Grad!.ToArray());
        model.ZeroGrad();
        using var two = new ComputeContext(2);
        GradientCache.Accumulate(model, loss, [a, b], scores, null, 6, PoolingMode.Cls, two);
        float worst = full.Keys.Max(k => Models.Compare.MaxAbs(full[k], model[k].Grad!));
        // Chunks sum the per-token gradient contributions in another order than the full batch, so float32
        // rounding scales with the gradients' size: compare against the largest gradient, as the HF fixtures do.
        float largest = full.Values.Max(g => g.Max(Math.Abs));
        Assert.True(worst <= 1e-5f * Math.Max(1f, largest), $"max abs difference {worst}, largest gradient {largest}");
    }
}
