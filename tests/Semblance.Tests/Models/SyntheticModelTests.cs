// The engine against a float64 reference on configurations the HF fixtures lack: activations, rotary_value, embeddings_project.
using Semblance.Models;
using Semblance.Numerics;
using Xunit.Abstractions;

namespace Semblance.Tests.Models;

public sealed class SyntheticModelTests(ITestOutputHelper log)
{
    /// <summary>All hidden states (and the pooler output, last) of one packed forward pass.</summary>
    internal static List<float[]> Outputs(ITransformer model, TokenBatch batch, ComputeContext ctx)
    {
        using var ws = model.CreateWorkspace();
        var output = model.Forward(batch, new ForwardRequest(AllHiddenStates: true, Pooler: true), ws, ctx);
        var result = Enumerable.Range(0, model.NumLayers + 1).Select(l => output.HiddenState(l).ToArray()).ToList();
        if (model.HasPooler) result.Add(output.PoolerOutput.ToArray());
        return result;
    }

    [SharedTheory]
    [MemberData(nameof(HuggingFaceParityTests.ModelNames), MemberType = typeof(HuggingFaceParityTests))]
    public void Reference_MatchesTransformersFixtures(string name)
    {
        // The reference earns its trust here before it judges the configurations below.
        var checkpoint = Checkpoint.ReadFixture(name);
        var reference = new ReferenceEncoder(checkpoint);
        var dir = SharedData.FixtureModel(name);
        using var expected = SafeTensorsFile.Open(Path.Combine(dir, "expected.safetensors"));
        var cases = FixtureCase.Read(dir);
        float max = 0;
        foreach (int i in new[] { 0, 5, cases.Count - 1 })
        {
            var (hidden, pooler) = reference.Run(cases[i].InputIds, cases[i].TokenTypeIds);
            for (int l = 0; l < hidden.Length; l++)
                max = Math.Max(max, Compare.MaxAbs(hidden[l].Select(v => (float)v).ToArray(), expected.ReadFloat($"{i}.hidden_states.{l}").Span));
            if (pooler is not null)
                max = Math.Max(max, Compare.MaxAbs(pooler.Select(v => (float)v).ToArray(), expected.ReadFloat($"{i}.pooler_output").Span));
        }
        log.WriteLine($"{name}: float64 reference vs transformers {max:E2}");
        Assert.True(max <= 5e-6f, $"reference off by {max:E2}");
    }

    public static TheoryData<string> Variants => new()
    {
        "bert gelu", "bert gelu_new", "bert relu", "bert tanh", "bert one-layer", "bert gelu_python",
        "roformer gelu", "roformer rotary_value", "roformer embedding_size", "roformer embedding_size computed-table rotary_value",
    };

    private static Checkpoint Build(string variant) => variant switch
    {
        "bert gelu" => Synthetic.Bert(11),
        "bert gelu_new" => Synthetic.Bert(12, act: "gelu_new", heads: 4),
        "bert relu" => Synthetic.Bert(13, act: "relu", layers: 3),
        "bert tanh" => Synthetic.Bert(14, act: "tanh", hidden: 24, heads: 3),
        "bert one-layer" => Synthetic.Bert(15, layers: 1),
        "bert gelu_python" => Synthetic.Bert(16, act: "gelu_python"),
        "roformer gelu" => Synthetic.RoFormer(21),
        "roformer rotary_value" => Synthetic.RoFormer(22, rotaryValue: true),
        "roformer embedding_size" => Synthetic.RoFormer(23, embeddingSize: 24),
        "roformer embedding_size computed-table rotary_value" => Synthetic.RoFormer(24, embeddingSize: 8, rotaryValue: true, storeTable: false),
        _ => throw new ArgumentException(variant),
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Engine_MatchesFloat64Reference(string variant)
    {
        var checkpoint = Build(variant);
        var forReference = checkpoint.Clone();
        if ((string?)forReference.Config["hidden_act"] == "gelu_python") forReference.Config["hidden_act"] = "gelu";
        var reference = new ReferenceEncoder(forReference);
        using var tmp = new TempDir();
        using var model = TransformerLoader.Load(checkpoint.Save(tmp.Sub("model")));

        var (ids, types) = Synthetic.Sequences(7, 40, 1, 7, 16, 3);
        var batch = TokenBatch.FromSequences(ids, types);
        var actual = Outputs(model, batch, new ComputeContext(2));
        int h = model.HiddenSize;
        float max = 0;
        for (int b = 0; b < ids.Count; b++)
        {
            var (hidden, pooler) = reference.Run(ids[b], types[b]);
            for (int l = 0; l < hidden.Length; l++)
                max = Math.Max(max, Compare.MaxAbs(actual[l].AsSpan(batch.Offsets[b] * h, batch.Length(b) * h), hidden[l].Select(v => (float)v).ToArray()));
            if (pooler is not null)
                max = Math.Max(max, Compare.MaxAbs(actual[^1].AsSpan(b * h, h), pooler.Select(v => (float)v).ToArray()));
        }
        log.WriteLine($"{variant}: max abs vs float64 reference {max:E2}");
        Assert.True(max <= 1e-5f, $"{variant}: {max:E2}");
    }
}
