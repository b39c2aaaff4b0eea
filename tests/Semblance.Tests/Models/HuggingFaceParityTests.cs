// The fixture models against transformers v4.31's own hidden states, pooler outputs and pooled vectors.
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Numerics;
using Xunit.Abstractions;

namespace Semblance.Tests.Models;

public sealed class HuggingFaceParityTests(ITestOutputHelper log)
{
    // A float32 re-implementation should land near the reference's own float32-vs-float64 spread (≤ 1.5e-6).
    private const float ReferenceTolerance = 5e-6f;

    // Batching and thread count may change only float rounding.
    private const float ConsistencyTolerance = 1e-5f;

    public static TheoryData<string> ModelNames => new() { "bert-tiny-uncased", "bert-tiny-chinese", "roformer-tiny-chinese" };

    private static readonly (string Key, PoolingMode Mode)[] PoolKeys =
    [
        ("pool.cls", PoolingMode.Cls),
        ("pool.mean", PoolingMode.Mean),
        ("pool.last_avg", PoolingMode.LastAvg),
        ("pool.first_last_avg", PoolingMode.FirstLastAvg),
    ];

    /// <summary>Every quantity of every case, for one forward pass over <paramref name="batch"/>.</summary>
    private static Dictionary<string, float[]> Run(ITransformer model, TokenBatch batch, ComputeContext ctx, IDisposable? workspace = null)
    {
        var result = new Dictionary<string, float[]>();
        using var own = workspace is null ? model.CreateWorkspace() : null;
        var ws = workspace ?? own!;
        int h = model.HiddenSize;
        var output = model.Forward(batch, new ForwardRequest(AllHiddenStates: true, Pooler: model.HasPooler), ws, ctx);
        for (int l = 0; l <= model.NumLayers; l++)
        {
            var state = output.HiddenState(l);
            for (int b = 0; b < batch.BatchSize; b++)
                result[$"{b}.hidden_states.{l}"] = state.Slice(batch.Offsets[b] * h, batch.Length(b) * h).ToArray();
        }
        if (model.HasPooler)
            for (int b = 0; b < batch.BatchSize; b++)
                result[$"{b}.pooler_output"] = output.PoolerOutput.Slice(b * h, h).ToArray();
        var pooled = new float[batch.BatchSize * h];
        foreach (var (key, mode) in PoolKeys)
        {
            Pooling.Pool(output, batch, mode, pooled);
            for (int b = 0; b < batch.BatchSize; b++) result[$"{b}.{key}"] = pooled.AsSpan(b * h, h).ToArray();
        }
        return result;
    }

    private static Dictionary<string, float[]> RunOneAtATime(ITransformer model, List<FixtureCase> cases, ComputeContext ctx)
    {
        var result = new Dictionary<string, float[]>();
        using var ws = model.CreateWorkspace();
        for (int i = 0; i < cases.Count; i++)
        {
            var single = Run(model, TokenBatch.FromSequences([cases[i].InputIds], [cases[i].TokenTypeIds]), ctx, ws);
            foreach (var (key, value) in single) result[i + key[1..]] = value;
        }
        return result;
    }

    private static TokenBatch PackAll(List<FixtureCase> cases) =>
        TokenBatch.FromSequences(cases.Select(c => c.InputIds).ToList(), cases.Select(c => c.TokenTypeIds).ToList());

    /// <summary>"3.hidden_states.1" → "hidden_states.1": the quantity, for per-quantity maxima.</summary>
    private static string Quantity(string key) => key[(key.IndexOf('.') + 1)..];

    [SharedTheory]
    [MemberData(nameof(ModelNames))]
    public void OneAtATime_MatchesTransformers(string name)
    {
        var dir = SharedData.FixtureModel(name);
        var cases = FixtureCase.Read(dir);
        using var model = TransformerLoader.Load(dir);
        using var expected = SafeTensorsFile.Open(Path.Combine(dir, "expected.safetensors"));
        var actual = RunOneAtATime(model, cases, ComputeContext.Single);

        var maxima = new SortedDictionary<string, float>(StringComparer.Ordinal);
        int compared = 0;
        foreach (var key in expected.Tensors.Keys)
        {
            Assert.True(actual.TryGetValue(key, out var value), $"{name}: no computed value for {key}");
            float err = Compare.MaxAbs(value, expected.ReadFloat(key).Span);
            var q = Quantity(key);
            maxima[q] = Math.Max(maxima.GetValueOrDefault(q), err);
            compared++;
        }
        foreach (var (q, err) in maxima) log.WriteLine($"{name} {q}: max abs {err:E2}");

        int perCase = model.NumLayers + 1 + PoolKeys.Length + (model.HasPooler ? 1 : 0);
        Assert.Equal(cases.Count * perCase, compared);
        Assert.All(maxima, m => Assert.True(m.Value <= ReferenceTolerance, $"{name} {m.Key}: max abs {m.Value:E2} > {ReferenceTolerance:E0}"));
    }

    [SharedTheory]
    [MemberData(nameof(ModelNames))]
    public void PackedBatchAndThreadCount_ChangeOnlyRounding(string name)
    {
        var dir = SharedData.FixtureModel(name);
        var cases = FixtureCase.Read(dir);
        using var model = TransformerLoader.Load(dir);
        using var expected = SafeTensorsFile.Open(Path.Combine(dir, "expected.safetensors"));

        var single = RunOneAtATime(model, cases, ComputeContext.Single);
        var packed = Run(model, PackAll(cases), ComputeContext.Single);
        var packedTwoThreads = Run(model, PackAll(cases), new ComputeContext(2));
        var singleTwoThreads = RunOneAtATime(model, cases, new ComputeContext(2));

        float batchDiff = 0, threadDiff = 0, packedVsReference = 0;
        foreach (var (key, value) in single)
        {
            batchDiff = Math.Max(batchDiff, Compare.MaxAbs(value, packed[key]));
            threadDiff = Math.Max(threadDiff, Compare.MaxAbs(value, singleTwoThreads[key]));
            threadDiff = Math.Max(threadDiff, Compare.MaxAbs(packed[key], packedTwoThreads[key]));
            packedVsReference = Math.Max(packedVsReference, Compare.MaxAbs(packed[key], expected.ReadFloat(key).Span));
        }
        log.WriteLine($"{name}: packed vs one-at-a-time {batchDiff:E2}, 1 vs 2 threads {threadDiff:E2}, packed vs reference {packedVsReference:E2}");
        Assert.True(batchDiff <= ConsistencyTolerance, $"packed vs one-at-a-time {batchDiff:E2}");
        Assert.True(threadDiff <= ConsistencyTolerance, $"1 vs 2 threads {threadDiff:E2}");
        Assert.True(packedVsReference <= ReferenceTolerance, $"packed vs reference {packedVsReference:E2}");
    }

    [SharedTheory]
    [MemberData(nameof(ModelNames))]
    public void MinimalRequestPerPoolingMode_MatchesReference(string name)
    {
        // RequestFor keeps only what a mode needs; layer buffers are then shared, which must not corrupt layer 1.
        var dir = SharedData.FixtureModel(name);
        var cases = FixtureCase.Read(dir);
        var batch = PackAll(cases);
        using var model = TransformerLoader.Load(dir);
        using var expected = SafeTensorsFile.Open(Path.Combine(dir, "expected.safetensors"));
        using var ws = model.CreateWorkspace();
        int h = model.HiddenSize;
        var pooled = new float[batch.BatchSize * h];
        var modes = PoolKeys.Select(p => (p.Key, p.Mode)).ToList();
        if (model.HasPooler) modes.Add(("pooler_output", PoolingMode.Pooler));
        foreach (var (key, mode) in modes)
        {
            var output = model.Forward(batch, Pooling.RequestFor(mode), ws, new ComputeContext(2));
            Pooling.Pool(output, batch, mode, pooled);
            float err = 0;
            for (int b = 0; b < batch.BatchSize; b++)
                err = Math.Max(err, Compare.MaxAbs(pooled.AsSpan(b * h, h), expected.ReadFloat($"{b}.{key}").Span));
            Assert.True(err <= ReferenceTolerance, $"{name} {key} via RequestFor({mode}): {err:E2}");
        }
    }

    [SharedTheory]
    [InlineData("bert-tiny-uncased", 997_024L, true)]
    [InlineData("bert-tiny-chinese", 1_076_640L, true)]
    [InlineData("roformer-tiny-chinese", 693_824L, false)]
    public void Metadata_MatchesFixtureTable(string name, long parameters, bool hasPooler)
    {
        using var model = TransformerLoader.Load(SharedData.FixtureModel(name));
        Assert.Equal(parameters, model.ParameterCount);
        Assert.Equal(hasPooler, model.HasPooler);
        Assert.Equal(64, model.MaxPositions);
        Assert.Equal(name.StartsWith("roformer") ? "roformer" : "bert", model.ModelType);
    }

    [SharedFact]
    public void WorkspaceGrowsAndReusesWithoutChangingResults()
    {
        var dir = SharedData.FixtureModel("bert-tiny-uncased");
        var cases = FixtureCase.Read(dir);
        using var model = TransformerLoader.Load(dir);
        var small = TokenBatch.FromSequences([cases[0].InputIds]);
        var large = PackAll(cases);
        using var ws = model.CreateWorkspace();

        var first = model.Forward(small, ForwardRequest.LastOnly, ws, ComputeContext.Single).LastHiddenState.ToArray();
        model.Forward(large, new ForwardRequest(AllHiddenStates: true, Pooler: true), ws, ComputeContext.Single);
        var again = model.Forward(small, ForwardRequest.LastOnly, ws, ComputeContext.Single).LastHiddenState.ToArray();
        Assert.Equal(first, again);
    }

    [SharedFact]
    public void OutputRefusesWhatWasNotRequested()
    {
        var dir = SharedData.FixtureModel("bert-tiny-chinese");
        using var model = TransformerLoader.Load(dir);
        using var ws = model.CreateWorkspace();
        var output = model.Forward(TokenBatch.FromSequences([[101, 102]]), ForwardRequest.LastOnly, ws, ComputeContext.Single);
        Assert.Equal(2 * model.HiddenSize, output.LastHiddenState.Length);
        Assert.Throws<InvalidOperationException>(() => output.HiddenState(1).Length);
        Assert.Throws<InvalidOperationException>(() => output.PoolerOutput.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => output.HiddenState(model.NumLayers + 1).Length);
    }

    [SharedFact]
    public void RoFormerHasNoPoolerOutput()
    {
        using var model = TransformerLoader.Load(SharedData.FixtureModel("roformer-tiny-chinese"));
        using var ws = model.CreateWorkspace();
        var batch = TokenBatch.FromSequences([[101, 791, 102]]);
        var output = model.Forward(batch, new ForwardRequest(Pooler: true), ws, ComputeContext.Single);
        Assert.True(output.PoolerOutput.IsEmpty);
        var ex = Assert.Throws<SemblanceException>(() => Pooling.EnsureSupported(PoolingMode.Pooler, model));
        Assert.Contains("pooler", ex.Message);
        Assert.Throws<SemblanceException>(() => Pooling.Pool(output, batch, PoolingMode.Pooler, new float[model.HiddenSize]));
    }

    [SharedFact]
    public void InvalidBatchesAreRejected()
    {
        using var model = TransformerLoader.Load(SharedData.FixtureModel("bert-tiny-uncased"));
        using var ws = model.CreateWorkspace();
        var ctx = ComputeContext.Single;

        var tooLong = TokenBatch.FromSequences([Enumerable.Repeat(1000, 65).ToArray()]);
        Assert.Contains("max_position_embeddings 64", Assert.Throws<SemblanceException>(() => model.Forward(tooLong, ForwardRequest.LastOnly, ws, ctx)).Message);

        var badId = TokenBatch.FromSequences([[101, 30522, 102]]);
        Assert.Contains("30522", Assert.Throws<SemblanceException>(() => model.Forward(badId, ForwardRequest.LastOnly, ws, ctx)).Message);

        var badType = TokenBatch.FromSequences([[101, 102]], [[0, 2]]);
        Assert.Contains("type_vocab_size", Assert.Throws<SemblanceException>(() => model.Forward(badType, ForwardRequest.LastOnly, ws, ctx)).Message);

        var empty = TokenBatch.FromSequences([[101, 102], []]);
        Assert.Throws<ArgumentException>(() => model.Forward(empty, ForwardRequest.LastOnly, ws, ctx));

        using var foreign = new MemoryStream();
        Assert.Throws<ArgumentException>(() => model.Forward(badType, ForwardRequest.LastOnly, foreign, ctx));
    }

    [SharedFact]
    public void TokenTypeIdsAreUsed()
    {
        // The fixtures only use type 0; type 1 must change the embedding by exactly the row difference before LayerNorm.
        using var model = TransformerLoader.Load(SharedData.FixtureModel("bert-tiny-uncased"));
        using var ws = model.CreateWorkspace();
        var zero = model.Forward(TokenBatch.FromSequences([[101, 7592, 102]], [[0, 0, 0]]), ForwardRequest.LastOnly, ws, ComputeContext.Single).LastHiddenState.ToArray();
        var one = model.Forward(TokenBatch.FromSequences([[101, 7592, 102]], [[0, 1, 1]]), ForwardRequest.LastOnly, ws, ComputeContext.Single).LastHiddenState.ToArray();
        Assert.True(Compare.MaxAbs(zero, one) > 1e-3f);
    }
}
