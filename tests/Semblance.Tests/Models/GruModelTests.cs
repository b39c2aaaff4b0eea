// The tape-free GRU inference path: equal to the training forward, independent of batch composition and threads.
using Semblance.Embeddings;
using Semblance.Numerics;
using Semblance.Models;
using Semblance.Training;
using Semblance.Training.Autodiff;

namespace Semblance.Tests.Models;

public class GruModelTests
{
    // Hidden 40: 3H = 120 is not a multiple of the 32-wide GEMM panels, so padded panel lanes are exercised.
    private static (TrainableGru Trainable, GruModel Inference) Pair(TempDir dir, int seed = 7)
    {
        var trainable = TrainableGru.Initialize(new GruConfig { VocabSize = 50, EmbeddingSize = 24, HiddenSize = 40 }, seed);
        trainable.Save(dir.Path);
        return (trainable, GruModel.Load(dir.Path));
    }

    private static List<int[]> Sentences(int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, rng.Next(1, 13)).Select(_ => rng.Next(50)).ToArray()).ToList();
    }

    private static float[] Infer(GruModel model, IReadOnlyList<int[]> sentences, ComputeContext ctx)
    {
        var output = new float[sentences.Count * model.Dimension];
        model.Encode(TokenBatch.FromSequences(sentences), output, model.CreateWorkspace(), ctx);
        return output;
    }

    [Fact]
    public void EqualsTheTrainingForward()
    {
        using var dir = new TempDir();
        var (trainable, model) = Pair(dir);
        var sentences = Sentences(9, 1);
        var expected = trainable.Encode(new Tape(recording: false), TokenBatch.FromSequences(sentences), PoolingMode.Mean).Data;
        var actual = Infer(model, sentences, ComputeContext.Single);
        Assert.Equal(80, model.Dimension);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f, $"element {i}: training {expected[i]}, inference {actual[i]}");
        Assert.True(expected.Max(Math.Abs) > 0.05f, "the vectors are not trivially small");
    }

    [Fact]
    public void ASentenceGetsTheSameVectorInAnyBatchAndThreadCount()
    {
        using var dir = new TempDir();
        var (_, model) = Pair(dir);
        var sentences = Sentences(12, 2);
        using var two = new ComputeContext(2);
        var together = Infer(model, sentences, two);
        int d = model.Dimension;
        for (int s = 0; s < sentences.Count; s++)
        {
            var alone = Infer(model, [sentences[s]], ComputeContext.Single);
            Assert.Equal(together.AsSpan(s * d, d).ToArray(), alone);
        }
        var reversed = Infer(model, Enumerable.Reverse(sentences).ToList(), ComputeContext.Single);
        for (int s = 0; s < sentences.Count; s++)
            Assert.Equal(together.AsSpan(s * d, d).ToArray(), reversed.AsSpan((sentences.Count - 1 - s) * d, d).ToArray());
    }

    [Fact]
    public void AWorkspaceIsReusedAcrossBatchesOfDifferentSizes()
    {
        using var dir = new TempDir();
        var (_, model) = Pair(dir);
        var workspace = model.CreateWorkspace();
        var small = Sentences(3, 3);
        var large = Sentences(20, 4);
        var first = new float[small.Count * model.Dimension];
        model.Encode(TokenBatch.FromSequences(small), first, workspace, ComputeContext.Single);
        model.Encode(TokenBatch.FromSequences(large), new float[large.Count * model.Dimension], workspace, ComputeContext.Single);
        var again = new float[small.Count * model.Dimension];
        model.Encode(TokenBatch.FromSequences(small), again, workspace, ComputeContext.Single);
        Assert.Equal(first, again);
    }

    [Fact]
    public void WeightsThatDoNotMatchConfigAreAModelFormatError()
    {
        using var dir = new TempDir();
        var trainable = TrainableGru.Initialize(new GruConfig { VocabSize = 50, EmbeddingSize = 24, HiddenSize = 40 }, 1);
        trainable.Save(dir.Path);
        File.WriteAllText(dir.File("config.json"), new GruConfig { VocabSize = 50, EmbeddingSize = 24, HiddenSize = 32 }.ToJson());
        var e = Assert.Throws<ModelFormatException>(() => GruModel.Load(dir.Path));
        Assert.Contains("tensor 'gru.weight_ih_l0' has shape [120, 24], but config.json implies [96, 24]", e.Message);
    }
}
