// The trainable BERT/RoFormer against Hugging Face: forward hidden states, and CoSENT/InfoNCE losses and gradients.
using System.Text.Json;
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Tests.Models;
using Semblance.Text;
using Semblance.Training;
using Semblance.Training.Autodiff;
using Xunit.Abstractions;

namespace Semblance.Tests.Training;

public class TrainableTransformerTests(ITestOutputHelper output)
{
    public static TheoryData<string> FixtureModels => new() { "bert-tiny-uncased", "bert-tiny-chinese", "roformer-tiny-chinese" };

    public static TheoryData<string, string> GradientFixtures => new()
    {
        { "bert-tiny-uncased", "cosent" }, { "bert-tiny-uncased", "infonce" },
        { "roformer-tiny-chinese", "cosent" }, { "roformer-tiny-chinese", "infonce" },
    };

    [SharedTheory]
    [MemberData(nameof(FixtureModels))]
    public void ForwardMatchesHuggingFaceHiddenStates(string model)
    {
        var dir = SharedData.FixtureModel(model);
        var encoder = TrainableTransformer.Load(dir);
        var cases = FixtureCase.Read(dir);
        var batch = TokenBatch.FromSequences(cases.Select(c => c.InputIds).ToList(), cases.Select(c => c.TokenTypeIds).ToList());
        var result = encoder.Forward(new Tape(recording: false), batch);
        using var expected = SafeTensorsFile.Open(Path.Combine(dir, "expected.safetensors"));
        int h = encoder.Config.HiddenSize, layers = encoder.Config.NumHiddenLayers;
        float worst = 0;
        for (int i = 0; i < cases.Count; i++)
        {
            int start = batch.Offsets[i] * h, length = batch.Length(i) * h;
            worst = Math.Max(worst, Compare.MaxAbs(result.FirstLayer.Data.AsSpan(start, length), expected.ReadFloat($"{i}.hidden_states.1").Span));
            worst = Math.Max(worst, Compare.MaxAbs(result.Last.Data.AsSpan(start, length), expected.ReadFloat($"{i}.hidden_states.{layers}").Span));
        }
        output.WriteLine($"{model}: max abs vs HF hidden states {worst:E2}");
        Assert.True(worst < 1e-5, $"{model}: max abs {worst}");
        var pooled = encoder.Encode(new Tape(recording: false), batch, PoolingMode.FirstLastAvg);
        for (int i = 0; i < cases.Count; i++)
            Assert.True(Compare.MaxAbs(pooled.Row(i), expected.ReadFloat($"{i}.pool.first_last_avg").Span) < 1e-5);
    }

    /// <summary>
    /// The recording execution of every pooling mode, the pooler module included, against Hugging Face's pooled
    /// vectors, with a gradient reaching the pooler's weights.
    /// </summary>
    [SharedFact]
    public void EveryPoolingModeOnTheTapeMatchesHuggingFace()
    {
        var dir = SharedData.FixtureModel("bert-tiny-uncased");
        var encoder = TrainableTransformer.Load(dir);
        var cases = FixtureCase.Read(dir);
        var batch = TokenBatch.FromSequences(cases.Select(c => c.InputIds).ToList(), cases.Select(c => c.TokenTypeIds).ToList());
        using var expected = SafeTensorsFile.Open(Path.Combine(dir, "expected.safetensors"));
        foreach (var (mode, name) in new[] { (PoolingMode.Pooler, "pooler_output"), (PoolingMode.Cls, "pool.cls"), (PoolingMode.Mean, "pool.mean"), (PoolingMode.LastAvg, "pool.last_avg") })
        {
            var pooled = encoder.Encode(new Tape(recording: false), batch, mode);
            for (int i = 0; i < cases.Count; i++)
                Assert.True(Compare.MaxAbs(pooled.Row(i), expected.ReadFloat($"{i}.{name}").Span) < 1e-5, $"{mode}, case {i}");
        }
        var tape = new Tape();
        tape.Backward(tape.Mean(encoder.Encode(tape, batch, PoolingMode.Pooler)));
        Assert.Contains(encoder["pooler.dense.weight"].Grad!, g => g != 0);
    }

    [SharedTheory]
    [MemberData(nameof(GradientFixtures))]
    public void LossAndGradientsMatchHuggingFace(string model, string lossName)
    {
        var encoder = TrainableTransformer.Load(SharedData.FixtureModel(model));
        var (a, b, scores) = ReadBatch(model, encoder);
        EmbeddingLoss loss = lossName == "cosent" ? new CoSentLoss(20f) : new SimCseLoss(0.05f);
        var tape = new Tape();
        var ea = encoder.Encode(tape, a, PoolingMode.Mean);
        var eb = encoder.Encode(tape, b, PoolingMode.Mean);
        var value = loss.Compute(tape, [ea, eb], scores);
        tape.Backward(value.Objective);

        var reference = SafeTensorsContent.Read(SharedData.Path("fixtures", "gradients", model, lossName + ".safetensors"));
        int h = encoder.Config.HiddenSize;
        float referenceLoss = reference.Get("loss", 1)[0];
        Assert.True(Math.Abs(value.Reported - referenceLoss) <= 1e-5 * Math.Max(1, Math.Abs(referenceLoss)), $"loss {value.Reported} vs HF {referenceLoss}");
        Assert.True(Compare.MaxAbs(ea.Data, reference.Get("pooled.a", 8, h)) < 1e-5);
        Assert.True(Compare.MaxAbs(eb.Data, reference.Get("pooled.b", 8, h)) < 1e-5);

        var gradNames = reference.Names.Where(n => n.StartsWith("grad.", StringComparison.Ordinal)).ToList();
        float largest = gradNames.Max(n => reference.Get(n, reference.Shape(n)).Max(Math.Abs));
        float worst = 0;
        string worstName = "";
        foreach (var name in gradNames)
        {
            var p = encoder[name["grad.".Length..]];
            Assert.NotNull(p.Grad);
            float error = Compare.MaxAbs(p.Grad, reference.Get(name, p.Shape));
            if (error > worst) (worst, worstName) = (error, name);
        }
        var withGradient = encoder.Trainable.Where(p => p.Grad is not null).Select(p => "grad." + p.Name).ToHashSet();
        Assert.Equal(gradNames.ToHashSet(), withGradient);
        output.WriteLine($"{model} {lossName}: loss {value.Reported:F7} (HF {reference.Get("loss", 1)[0]:F7}); max abs gradient error {worst:E2} ({worstName}) vs largest gradient {largest:F3}: {worst / largest:E2} relative");
        Assert.True(worst <= 1e-5 * largest, $"{worstName}: {worst} vs largest {largest}");
    }

    internal static (TokenBatch A, TokenBatch B, float[] Scores) ReadBatch(string model, TrainableTransformer encoder)
    {
        var tokenizer = BertTokenizer.Load(SharedData.FixtureModel(model));
        var a = new List<int[]>();
        var b = new List<int[]>();
        var scores = new List<float>();
        foreach (var line in File.ReadLines(SharedData.Path("fixtures", "gradients", model, "batch.jsonl")))
        {
            if (line.Length == 0) continue;
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            a.Add(tokenizer.Encode(root.GetProperty("sentence1").GetString()!, encoder.Config.MaxPositionEmbeddings).Ids);
            b.Add(tokenizer.Encode(root.GetProperty("sentence2").GetString()!, encoder.Config.MaxPositionEmbeddings).Ids);
            scores.Add((float)root.GetProperty("score").GetDouble());
        }
        return (TokenBatch.FromSequences(a), TokenBatch.FromSequences(b), scores.ToArray());
    }
}
