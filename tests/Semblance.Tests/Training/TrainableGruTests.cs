// The from-scratch bidirectional GRU encoder learns a grouping task with AM-Softmax through GradCache and AdamW.
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Numerics;
using Semblance.Training;
using Semblance.Training.Autodiff;

namespace Semblance.Tests.Training;

public class TrainableGruTests
{
    /// <summary>
    /// Group g's sentences are random mixes of its two "topic" tokens and shared filler tokens, in random order, so
    /// only a model that reads which topic tokens occur can tell the groups apart.
    /// </summary>
    private static int[] Sentence(Random rng, int group)
    {
        int length = rng.Next(3, 8);
        var ids = new int[length];
        for (int i = 0; i < length; i++) ids[i] = rng.NextDouble() < 0.4 ? 2 + 2 * group + rng.Next(2) : 20 + rng.Next(10);
        ids[rng.Next(length)] = 2 + 2 * group;
        return ids;
    }

    [Fact]
    public void AmSoftmaxTrainingSeparatesGroups()
    {
        const int groups = 8;
        var model = TrainableGru.Initialize(vocabSize: 30, embeddingSize: 8, hiddenSize: 8, seed: 1);
        var loss = new AmSoftmaxLoss(margin: 0.2f, scale: 10f);
        var optimizer = new AdamW(model.TrainableParameters(), weightDecay: 0);
        var rng = new Random(2);
        var eval = new Random(3);
        var evalA = Enumerable.Range(0, groups).Select(g => Sentence(eval, g)).ToList();
        var evalB = Enumerable.Range(0, groups).Select(g => Sentence(eval, g)).ToList();
        double EvalLoss() => loss.Compute(new Tape(recording: false),
            [model.Encode(new Tape(recording: false), TokenBatch.FromSequences(evalA), PoolingMode.Mean),
             model.Encode(new Tape(recording: false), TokenBatch.FromSequences(evalB), PoolingMode.Mean)], null).Reported;
        double before = EvalLoss();
        for (int step = 0; step < 60; step++)
        {
            var a = Enumerable.Range(0, groups).Select(g => Sentence(rng, g)).ToList();
            var b = Enumerable.Range(0, groups).Select(g => Sentence(rng, g)).ToList();
            GradientCache.Accumulate(model, loss, [a, b], null, null, chunks: 2, PoolingMode.Mean, ComputeContext.Single);
            optimizer.ClipGradientNorm(1.0);
            optimizer.Update(0.03);
            model.ZeroGradients();
        }
        double after = EvalLoss();
        Assert.True(after < 0.5 * before, $"AM-Softmax loss on held-out sentences: {before} before, {after} after");
        Assert.Equal(16, model.Encode(new Tape(recording: false), TokenBatch.FromSequences(evalA), PoolingMode.Mean).Cols);
    }

    [Fact]
    public void SavesPyTorchNamedTensors()
    {
        var model = TrainableGru.Initialize(30, 8, 4, seed: 1);
        using var dir = new Models.TempDir();
        model.Save(dir.Path);
        var saved = SafeTensorsContent.Read(dir.File("model.safetensors"));
        Assert.Equal(model.Parameters.Select(p => p.Name).ToHashSet(), saved.Names.ToHashSet());
        Assert.Equal(model.Parameters[2].Data, saved.Get("gru.weight_hh_l0", 12, 4));
        Assert.Contains("semblance-gru", File.ReadAllText(dir.File("config.json")));
    }
}
