// Loading model directories: config.json validation, checkpoint variants (prefixes, dtypes, shards) and their errors.
using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Semblance.Models;
using Semblance.Numerics;

namespace Semblance.Tests.Models;

public sealed class TransformerLoaderTests : IDisposable
{
    private readonly TempDir _dir = new();
    private int _count;

    public void Dispose() => _dir.Dispose();

    private string NewDir() => _dir.Sub($"m{_count++}");

    private static readonly (List<int[]> Ids, List<int[]> Types) Input = Synthetic.Sequences(3, 40, 5, 16, 1);

    private static TokenBatch Batch => TokenBatch.FromSequences(Input.Ids, Input.Types);

    private static List<float[]> Run(string dir)
    {
        using var model = TransformerLoader.Load(dir);
        return SyntheticModelTests.Outputs(model, Batch, ComputeContext.Single);
    }

    private static List<float[]> Run(string dir, WeightPrecision precision)
    {
        using var model = TransformerLoader.Load(dir, TransformerLoader.LoadConfig(dir), precision: precision);
        return SyntheticModelTests.Outputs(model, Batch, ComputeContext.Single);
    }

    private static void AssertIdentical(List<float[]> expected, List<float[]> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i], actual[i]);
    }

    private ModelFormatException LoadFails(string dir, params string[] fragments)
    {
        var ex = Assert.Throws<ModelFormatException>(() => TransformerLoader.Load(dir).Dispose());
        Assert.DoesNotContain('\n', ex.Message);
        foreach (var f in fragments) Assert.Contains(f, ex.Message);
        return ex;
    }

    private string WithConfig(Action<JsonObject> edit)
    {
        var c = Synthetic.Bert(1);
        edit(c.Config);
        return c.Save(NewDir());
    }

    [Fact]
    public void MissingDirectoryConfigOrWeights()
    {
        LoadFails(Path.Combine(_dir.Path, "absent"), "absent", "not found");

        var noConfig = NewDir();
        LoadFails(noConfig, Path.Combine(noConfig, "config.json"), "not found");

        var noWeights = Synthetic.Bert(1).Save(NewDir());
        File.Delete(Path.Combine(noWeights, "model.safetensors"));
        LoadFails(noWeights, "model.safetensors", "not found");

        File.WriteAllBytes(Path.Combine(noWeights, "pytorch_model.bin"), [0]);
        LoadFails(noWeights, "pytorch_model.bin", "only safetensors");
    }

    [Fact]
    public void MalformedOrMistypedConfig()
    {
        var dir = Synthetic.Bert(1).Save(NewDir());
        File.WriteAllText(Path.Combine(dir, "config.json"), "{\"model_type\": \"bert\",,");
        LoadFails(dir, "config.json", "malformed JSON");

        LoadFails(WithConfig(c => c["hidden_size"] = "16"), "config.json", "hidden_size must be an integer", "\"16\"");
        var roformer = Synthetic.RoFormer(1);
        roformer.Config["rotary_value"] = 1;
        LoadFails(roformer.Save(NewDir()), "rotary_value must be true or false");
        LoadFails(WithConfig(c => c["layer_norm_eps"] = "tiny"), "layer_norm_eps must be a number");
    }

    [Fact]
    public void UnknownOrMissingModelType()
    {
        var dir = WithConfig(c => c["model_type"] = "gpt2");
        LoadFails(dir, Path.Combine(dir, "config.json"), "'gpt2'", "bert, roformer");
        LoadFails(WithConfig(c => c.Remove("model_type")), "model_type is missing", "bert, roformer");
        LoadFails(WithConfig(c => c["model_type"] = "distilbert"), "'distilbert' is not supported");
    }

    [Fact]
    public void UnsupportedArchitectureOptions()
    {
        LoadFails(WithConfig(c => c["position_embedding_type"] = "relative_key"), "position_embedding_type 'relative_key' is not supported", "absolute");
        LoadFails(WithConfig(c => c["position_embedding_type"] = null), "position_embedding_type");
        LoadFails(WithConfig(c => c["hidden_act"] = "swish"), "hidden_act 'swish' is not supported", "gelu_new");
        LoadFails(WithConfig(c => c["num_attention_heads"] = 3), "hidden_size 16 is not a multiple of num_attention_heads 3");
        LoadFails(WithConfig(c => c["is_decoder"] = true), "is_decoder");
        LoadFails(WithConfig(c => c["intermediate_size"] = 0), "intermediate_size must be a positive integer");
        LoadFails(WithConfig(c => { c["model_type"] = "ernie"; c["use_task_id"] = true; }), "use_task_id");

        var roformer = Synthetic.RoFormer(1, hidden: 12, heads: 4);
        LoadFails(roformer.Save(NewDir()), "even head dimension");
    }

    [Fact]
    public void ConfigDefaultsFollowTransformers()
    {
        var bert = TransformerConfig.Parse("{\"model_type\": \"bert\"}", "config.json");
        Assert.Equal((30522, 768, 12, 12, 3072, 512, 2, 1e-12, "gelu", "absolute"),
            (bert.VocabSize, bert.HiddenSize, bert.NumHiddenLayers, bert.NumAttentionHeads, bert.IntermediateSize,
             bert.MaxPositionEmbeddings, bert.TypeVocabSize, bert.LayerNormEps, bert.HiddenAct, bert.PositionEmbeddingType));
        var roformer = TransformerConfig.Parse("{\"model_type\": \"roformer\", \"hidden_size\": 384, \"embedding_size\": null}", "config.json");
        Assert.Equal((50000, 1536, 384, false), (roformer.VocabSize, roformer.MaxPositionEmbeddings, roformer.EmbeddingSize, roformer.RotaryValue));
        Assert.Equal(HiddenActivation.GeluTanh, TransformerConfig.Parse("{\"model_type\": \"bert\", \"hidden_act\": \"gelu_pytorch_tanh\"}", "c").Activation);
    }

    [Fact]
    public void TensorShapeDisagreeingWithConfig()
    {
        var c = Synthetic.Bert(1);
        c.Config["intermediate_size"] = 33;
        var dir = c.Save(NewDir());
        LoadFails(dir, Path.Combine(dir, "model.safetensors"), "'encoder.layer.0.intermediate.dense.weight'", "[32, 16]", "[33, 16]");
    }

    [Fact]
    public void MissingTensor()
    {
        var c = Synthetic.Bert(1);
        c.Remove("encoder.layer.1.output.dense.bias");
        var dir = c.Save(NewDir());
        LoadFails(dir, Path.Combine(dir, "model.safetensors"), "'encoder.layer.1.output.dense.bias' is missing");

        var empty = Synthetic.Bert(1);
        empty.Tensors.RemoveAll(t => t.Name.StartsWith("embeddings.", StringComparison.Ordinal));
        LoadFails(empty.Save(NewDir()), "embeddings.word_embeddings.weight", "bert.embeddings.word_embeddings.weight");
    }

    [Fact]
    public void PoolerIsOptionalButNotHalfPresent()
    {
        var full = Synthetic.Bert(1);
        var expected = Run(full.Save(NewDir()));

        var headless = full.Clone();
        headless.Remove("pooler.dense.weight");
        headless.Remove("pooler.dense.bias");
        var dir = headless.Save(NewDir());
        using (var model = TransformerLoader.Load(dir)) Assert.False(model.HasPooler);
        AssertIdentical(expected.Take(expected.Count - 1).ToList(), Run(dir));

        var half = full.Clone();
        half.Remove("pooler.dense.bias");
        LoadFails(half.Save(NewDir()), "'pooler.dense.bias' is missing");
    }

    [Fact]
    public void TaskHeadPrefixExtraTensorsAndPositionIdsAreAccepted()
    {
        var plain = Synthetic.Bert(1);
        var expectedDir = plain.Save(NewDir());
        var expected = Run(expectedDir);
        long parameters;
        using (var model = TransformerLoader.Load(expectedDir)) parameters = model.ParameterCount;

        var prefixed = plain.Clone();
        prefixed.RenameAll(n => "bert." + n);
        var writer = prefixed.Writer();
        var positionIds = new byte[16 * 8];
        for (int i = 0; i < 16; i++) BinaryPrimitives.WriteInt64LittleEndian(positionIds.AsSpan(i * 8), i);
        writer.AddRaw("bert.embeddings.position_ids", "I64", [1, 16], positionIds);
        writer.Add("cls.predictions.bias", [40], new float[40]);
        var dir = NewDir();
        File.WriteAllText(Path.Combine(dir, "config.json"), prefixed.Config.ToJsonString());
        writer.Save(Path.Combine(dir, "model.safetensors"));

        AssertIdentical(expected, Run(dir));
        using var loaded = TransformerLoader.Load(dir);
        Assert.Equal(parameters, loaded.ParameterCount);
    }

    [Fact]
    public void ErnieWithoutTaskIdsIsBert()
    {
        var plain = Synthetic.Bert(1);
        var expected = Run(plain.Save(NewDir()));
        var ernie = plain.Clone();
        ernie.Config["model_type"] = "ernie";
        ernie.Config["use_task_id"] = false;
        ernie.RenameAll(n => "ernie." + n);
        AssertIdentical(expected, Run(ernie.Save(NewDir())));
    }

    [Fact]
    public void RoFormerPrefixAndLegacyLayerNormNames()
    {
        var plain = Synthetic.RoFormer(2);
        var expected = Run(plain.Save(NewDir()));
        var renamed = plain.Clone();
        renamed.RenameAll(n => "roformer." + n.Replace("LayerNorm.weight", "LayerNorm.gamma").Replace("LayerNorm.bias", "LayerNorm.beta"));
        AssertIdentical(expected, Run(renamed.Save(NewDir())));
    }

    [Theory]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void HalfPrecisionWeightsEqualTheirFloat32Values(string dtype)
    {
        var c = Synthetic.Bert(4);
        var rounded = c.Clone();
        foreach (var t in rounded.Tensors)
            for (int i = 0; i < t.Values.Length; i++)
                t.Values[i] = dtype == "F16" ? (float)(Half)t.Values[i] : BitConverter.Int32BitsToSingle(SafeTensorsWriter.ToBFloat16(t.Values[i]) << 16);
        var expected = Run(rounded.Save(NewDir()));

        var half = c.Clone();
        for (int i = 0; i < half.Tensors.Count; i++) half.Tensors[i] = half.Tensors[i] with { DType = dtype };
        var dir = half.Save(NewDir());
        AssertIdentical(expected, Run(dir));
        // Kept resident in 16 bits (the directory's default) it computes the same bits as widened at load.
        var stored = dtype == "F16" ? WeightPrecision.Fp16 : WeightPrecision.Bf16;
        Assert.Equal(stored, WeightPrecisions.ReadDefault(dir));
        AssertIdentical(expected, Run(dir, stored));
        // Rounding the weights really happened, so the test would see a dtype read as the wrong width.
        Assert.NotEqual(Run(c.Save(NewDir()))[^1], expected[^1]);
        // A float32 checkpoint asked for 16 bits rounds its Linear weights at load: close to, not equal to, float32.
        var roundedAtLoad = Run(c.Save(NewDir()), stored);
        Assert.NotEqual(Run(c.Save(NewDir()))[^1], roundedAtLoad[^1]);
        Assert.Null(WeightPrecisions.ReadDefault(c.Save(NewDir())));
    }

    [Fact]
    public void ShardedCheckpointLoadsLikeOneFile()
    {
        var c = Synthetic.Bert(5);
        var expected = Run(c.Save(NewDir()));
        var dir = NewDir();
        File.WriteAllText(Path.Combine(dir, "config.json"), c.Config.ToJsonString());
        var first = c.Tensors.Take(c.Tensors.Count / 2).ToList();
        var second = c.Tensors.Skip(first.Count).ToList();
        c.Writer(first).Save(Path.Combine(dir, "model-00001-of-00002.safetensors"));
        c.Writer(second).Save(Path.Combine(dir, "model-00002-of-00002.safetensors"));
        var map = new JsonObject();
        foreach (var t in first) map[t.Name] = "model-00001-of-00002.safetensors";
        foreach (var t in second) map[t.Name] = "model-00002-of-00002.safetensors";
        var index = Path.Combine(dir, "model.safetensors.index.json");
        File.WriteAllText(index, new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = 1 }, ["weight_map"] = map }.ToJsonString());
        AssertIdentical(expected, Run(dir));

        var wrongShard = (JsonObject)map.DeepClone();
        wrongShard[first[0].Name] = "model-00002-of-00002.safetensors";
        File.WriteAllText(index, new JsonObject { ["weight_map"] = wrongShard }.ToJsonString());
        LoadFails(dir, index, $"'{first[0].Name}'", "no such tensor");

        var missingShard = (JsonObject)map.DeepClone();
        missingShard[first[0].Name] = "model-00003-of-00003.safetensors";
        File.WriteAllText(index, new JsonObject { ["weight_map"] = missingShard }.ToJsonString());
        LoadFails(dir, index, "'model-00003-of-00003.safetensors'", "missing");

        var incomplete = (JsonObject)map.DeepClone();
        incomplete.Remove("encoder.layer.0.output.dense.weight");
        File.WriteAllText(index, new JsonObject { ["weight_map"] = incomplete }.ToJsonString());
        LoadFails(dir, index, "'encoder.layer.0.output.dense.weight' is missing");

        File.WriteAllText(index, "{\"weight_map\": [1]}");
        LoadFails(dir, index, "weight_map");
    }

    [Fact]
    public void RoFormerComputesTheSinusoidalTableWhenAbsent()
    {
        var stored = Synthetic.RoFormer(6);
        var expected = Run(stored.Save(NewDir()));
        var computed = stored.Clone();
        computed.Remove("encoder.embed_positions.weight");
        var dir = computed.Save(NewDir());
        var actual = Run(dir);
        for (int i = 0; i < expected.Count; i++) Assert.True(Compare.MaxAbs(expected[i], actual[i]) <= 1e-6f);
        using var model = TransformerLoader.Load(dir);
        using var withTable = TransformerLoader.Load(stored.Save(NewDir()));
        Assert.Equal(16 * 4, withTable.ParameterCount - model.ParameterCount);
    }

    [SharedFact]
    public void ComputedTableMatchesTheFixture()
    {
        using var file = SafeTensorsFile.Open(SharedData.Path("fixtures", "models", "roformer-tiny-chinese", "model.safetensors"));
        var table = RotaryEmbedding.Compute(64, 8);
        Assert.True(Compare.MaxAbs(file.ReadFloat("encoder.embed_positions.weight").Span, table) <= 3e-8f);
    }

    [Fact]
    public void DisposedModelRefusesToRun()
    {
        var model = TransformerLoader.Load(Synthetic.Bert(1).Save(NewDir()));
        var ws = model.CreateWorkspace();
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => model.Forward(Batch, ForwardRequest.LastOnly, ws, ComputeContext.Single));
    }
}
