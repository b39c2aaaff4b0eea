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

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void LastStatePoolingIsEachDirectionsFinalState(bool bidirectional)
    {
        // With pooling "mean", L·mean over a sentence of length L minus (L−1)·mean over the sentence without its last
        // token is the forward state after the last token; without its first token, the reverse state after the first.
        using var meanDir = new TempDir();
        using var lastDir = new TempDir();
        var (meanTrainable, meanModel) = Pair(meanDir);
        var last = TrainableGru.Initialize(new GruConfig
        {
            VocabSize = 50, EmbeddingSize = 24, HiddenSize = 40, Bidirectional = bidirectional, Pooling = GruPooling.Last,
        }, 7);
        for (int p = 0; p < last.Parameters.Count; p++) Assert.Equal(meanTrainable.Parameters[p].Data, last.Parameters[p].Data);
        Assert.Equal(bidirectional ? 9 : 5, last.Parameters.Count);
        last.Save(lastDir.Path);
        var lastModel = GruModel.Load(lastDir.Path);
        int h = 40;
        Assert.Equal(bidirectional ? 2 * h : h, lastModel.Dimension);

        var sentences = Sentences(9, 5).Where(x => x.Length >= 2).ToList();
        var heads = sentences.Select(x => x[..^1]).ToList();
        var tails = sentences.Select(x => x[1..]).ToList();
        var whole = Infer(meanModel, sentences, ComputeContext.Single);
        var withoutLast = Infer(meanModel, heads, ComputeContext.Single);
        var withoutFirst = Infer(meanModel, tails, ComputeContext.Single);
        var inferred = Infer(lastModel, sentences, ComputeContext.Single);
        var taped = last.Encode(new Tape(recording: false), TokenBatch.FromSequences(sentences), PoolingMode.Mean).Data;
        int d = lastModel.Dimension;
        for (int s = 0; s < sentences.Count; s++)
        {
            int n = sentences[s].Length;
            for (int j = 0; j < d; j++)
            {
                bool reverse = j >= h;
                float expected = reverse
                    ? n * whole[s * 2 * h + j] - (n - 1) * withoutFirst[s * 2 * h + j]
                    : n * whole[s * 2 * h + j] - (n - 1) * withoutLast[s * 2 * h + j];
                Assert.True(Math.Abs(expected - inferred[s * d + j]) <= 1e-4f, $"sentence {s} value {j}: expected {expected}, inference {inferred[s * d + j]}");
                Assert.True(Math.Abs(taped[s * d + j] - inferred[s * d + j]) <= 1e-5f, $"sentence {s} value {j}: training {taped[s * d + j]}, inference {inferred[s * d + j]}");
            }
        }
    }

    [Fact]
    public void ALastStateModelReportsItsPoolingAndReopensWithIt()
    {
        // An index records the backend's pooling and reopens the model with it, so a last-state GRU must say "last"
        // and accept "last" back; a pooling the model cannot do is refused with one line.
        using var dir = new TempDir();
        TrainableGru.Initialize(new GruConfig { VocabSize = 50, EmbeddingSize = 8, HiddenSize = 8, Bidirectional = false, Pooling = GruPooling.Last }, 3).Save(dir.Path);
        File.WriteAllLines(Path.Combine(dir.Path, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "car"]);
        float[] first;
        using (var encoder = SentenceEncoder.Load(dir.Path, new EncoderOptions { Threads = 1, Normalize = false }))
        {
            Assert.Equal("last", encoder.Backend.Pooling);
            first = encoder.EncodeFlat(["a red car"]);
        }
        using (var again = SentenceEncoder.Load(dir.Path, new EncoderOptions { Pooling = "last", Threads = 1, Normalize = false }))
            Assert.Equal(first, again.EncodeFlat(["a red car"]));
        var error = Assert.Throws<SemblanceException>(() => SentenceEncoder.Load(dir.Path, new EncoderOptions { Pooling = "mean", Threads = 1 }));
        Assert.Contains("(last)", error.Message);
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
