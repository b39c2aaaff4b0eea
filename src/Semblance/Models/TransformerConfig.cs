// config.json of the BERT-family encoders, field by field, with Hugging Face transformers v4.31 defaults.
using System.Text.Json;

namespace Semblance.Models;

/// <summary>The feed-forward activation (<c>hidden_act</c>) as transformers' ACT2FN defines it.</summary>
public enum HiddenActivation
{
    /// <summary>Exact 0.5·x·(1 + erf(x/√2)): "gelu", "gelu_python".</summary>
    Gelu,

    /// <summary>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "gelu_accurate".</summary>
    GeluTanh,

    Relu,

    Tanh,
}

/// <summary>
/// One type for <c>BertConfig</c>, <c>RoFormerConfig</c> and <c>ErnieConfig</c>: the fields they share plus the
/// RoFormer ones (<see cref="EmbeddingSize"/>, <see cref="RotaryValue"/>). Absent fields take the upstream default
/// of the model type; fields that change the computation in ways this engine does not implement are rejected.
/// </summary>
public sealed class TransformerConfig
{
    public static IReadOnlyList<string> SupportedModelTypes { get; } = ["bert", "roformer", "ernie"];

    public static IReadOnlyList<string> SupportedActivations { get; } =
        ["gelu", "gelu_python", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "gelu_accurate", "relu", "tanh"];

    public string ModelType { get; init; } = "bert";
    public IReadOnlyList<string> Architectures { get; init; } = [];
    public int VocabSize { get; init; } = 30522;
    public int HiddenSize { get; init; } = 768;
    public int NumHiddenLayers { get; init; } = 12;
    public int NumAttentionHeads { get; init; } = 12;
    public int IntermediateSize { get; init; } = 3072;
    public string HiddenAct { get; init; } = "gelu";
    public double HiddenDropoutProb { get; init; } = 0.1;
    public double AttentionProbsDropoutProb { get; init; } = 0.1;
    public int MaxPositionEmbeddings { get; init; } = 512;
    public int TypeVocabSize { get; init; } = 2;
    public double InitializerRange { get; init; } = 0.02;
    public double LayerNormEps { get; init; } = 1e-12;
    public int? PadTokenId { get; init; } = 0;

    /// <summary>BERT/ERNIE only; "absolute" is the one this engine implements.</summary>
    public string PositionEmbeddingType { get; init; } = "absolute";

    /// <summary>RoFormer: width of the embedding tables; an <c>embeddings_project</c> Linear maps it to <see cref="HiddenSize"/> when they differ.</summary>
    public int EmbeddingSize { get; init; } = 768;

    /// <summary>RoFormer: rotate the values as well as queries and keys.</summary>
    public bool RotaryValue { get; init; }

    public bool IsDecoder { get; init; }

    /// <summary>ERNIE: adds task-type embeddings, which this engine does not implement.</summary>
    public bool UseTaskId { get; init; }

    /// <summary>
    /// Label names of a sequence-classification head (config.json's <c>id2label</c>, in id order); empty when the config has
    /// none. Their count is the head's number of outputs (<see cref="NumLabels"/>), as transformers derives it.
    /// </summary>
    public IReadOnlyList<string> Id2Label { get; init; } = [];

    /// <summary><c>num_labels</c> when stated, else the number of <see cref="Id2Label"/> entries, else transformers' default 2.</summary>
    public int NumLabels { get; init; } = 2;

    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Sanity bound on max_position_embeddings (RoFormer computes a table of this many rows at load).</summary>
    public const int MaxPositions = 1 << 17;

    /// <summary>Float parameters this config implies (as a double: a hostile config must not overflow the count).</summary>
    public double ParameterCount()
    {
        double h = HiddenSize, e = IsRoFormer ? EmbeddingSize : h, inter = IntermediateSize;
        double embeddings = ((double)VocabSize + MaxPositionEmbeddings + TypeVocabSize) * e + 2 * e + (e != h ? h * e + h : 0);
        double layer = 4 * (h * h + h) + 2 * h * inter + inter + 5 * h;
        return embeddings + NumHiddenLayers * layer + h * h + h;
    }

    public HiddenActivation Activation => ParseActivation(HiddenAct) ?? throw new InvalidOperationException("activation was validated at load");

    public bool IsRoFormer => ModelType == "roformer";

    public static TransformerConfig Load(string path) =>
        Parse(ModelFiles.ReadJson(path, "a Hugging Face model directory needs config.json"), path);

    /// <summary>Parses config.json text; <paramref name="source"/> names the file in error messages.</summary>
    public static TransformerConfig Parse(string json, string source) =>
        Parse(IO.StrictJson.Parse(json, source, static m => new ModelFormatException(m), IO.StrictJson.Lenient), source);

    private static TransformerConfig Parse(JsonDocument doc, string source)
    {
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException($"{source}: expected a JSON object, got {root.ValueKind}");
            var f = new Fields(root, source);

            string supported = string.Join(", ", SupportedModelTypes);
            string modelType = f.String("model_type", "")
                ?? throw new ModelFormatException($"{source}: model_type is null; expected one of {supported}");
            if (modelType.Length == 0)
                throw new ModelFormatException($"{source}: model_type is missing; expected one of {supported}");
            if (!SupportedModelTypes.Contains(modelType))
                throw new ModelFormatException($"{source}: model_type '{modelType}' is not supported; supported model types: {supported}");

            var labels = ReadId2Label(root, source);
            int numLabels = root.TryGetProperty("num_labels", out var nl) && nl.ValueKind == JsonValueKind.Number
                ? nl.TryGetInt32(out var n) && n > 0 ? n : throw new ModelFormatException($"{source}: num_labels must be a positive integer")
                : labels.Count > 0 ? labels.Count : 2;
            if (labels.Count > 0 && labels.Count != numLabels)
                throw new ModelFormatException($"{source}: num_labels {numLabels} disagrees with the {labels.Count} entries of id2label");
            bool roformer = modelType == "roformer";
            int hidden = f.Int("hidden_size", 768);
            var config = new TransformerConfig
            {
                ModelType = modelType,
                Architectures = f.StringList("architectures"),
                VocabSize = f.Int("vocab_size", roformer ? 50000 : 30522),
                HiddenSize = hidden,
                NumHiddenLayers = f.Int("num_hidden_layers", 12),
                NumAttentionHeads = f.Int("num_attention_heads", 12),
                IntermediateSize = f.Int("intermediate_size", 3072),
                HiddenAct = f.String("hidden_act", "gelu") ?? throw new ModelFormatException($"{source}: hidden_act is null; expected one of {string.Join(", ", SupportedActivations)}"),
                HiddenDropoutProb = f.Double("hidden_dropout_prob", 0.1),
                AttentionProbsDropoutProb = f.Double("attention_probs_dropout_prob", 0.1),
                MaxPositionEmbeddings = f.Int("max_position_embeddings", roformer ? 1536 : 512),
                TypeVocabSize = f.Int("type_vocab_size", 2),
                InitializerRange = f.Double("initializer_range", 0.02),
                LayerNormEps = f.Double("layer_norm_eps", 1e-12),
                PadTokenId = f.NullableInt("pad_token_id", 0),
                PositionEmbeddingType = roformer ? "rotary" : f.String("position_embedding_type", "absolute") ?? "null",
                EmbeddingSize = roformer ? f.NullableInt("embedding_size", null) ?? hidden : hidden,
                RotaryValue = roformer && f.Bool("rotary_value", false),
                IsDecoder = f.Bool("is_decoder", false),
                UseTaskId = modelType == "ernie" && f.Bool("use_task_id", false),
                Id2Label = labels,
                NumLabels = numLabels,
            };
            config.Validate(source);
            return config;
        }
    }

    /// <summary>
    /// config.json text with every field <see cref="Parse(string, string)"/> reads (the RoFormer-only ones for model_type roformer);
    /// <see cref="Parse(string, string)"/> of the result gives back an equal config.
    /// </summary>
    public string ToJson()
    {
        var json = new System.Text.Json.Nodes.JsonObject
        {
            ["architectures"] = new System.Text.Json.Nodes.JsonArray(Architectures.Select(a => (System.Text.Json.Nodes.JsonNode?)a).ToArray()),
            ["model_type"] = ModelType,
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["intermediate_size"] = IntermediateSize,
            ["hidden_act"] = HiddenAct,
            ["hidden_dropout_prob"] = HiddenDropoutProb,
            ["attention_probs_dropout_prob"] = AttentionProbsDropoutProb,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["type_vocab_size"] = TypeVocabSize,
            ["initializer_range"] = InitializerRange,
            ["layer_norm_eps"] = LayerNormEps,
            ["pad_token_id"] = PadTokenId,
        };
        if (IsRoFormer)
        {
            json["embedding_size"] = EmbeddingSize;
            json["rotary_value"] = RotaryValue;
        }
        else
        {
            json["position_embedding_type"] = PositionEmbeddingType;
        }
        json["is_decoder"] = IsDecoder;
        if (ModelType == "ernie") json["use_task_id"] = UseTaskId;
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>id2label as a list indexed by label id: keys must be the ids 0..n−1 (as strings), values strings.</summary>
    private static IReadOnlyList<string> ReadId2Label(JsonElement root, string source)
    {
        if (!root.TryGetProperty("id2label", out var map) || map.ValueKind == JsonValueKind.Null) return [];
        if (map.ValueKind != JsonValueKind.Object) throw new ModelFormatException($"{source}: id2label must be an object of label id → name");
        var byId = new SortedDictionary<int, string>();
        foreach (var p in map.EnumerateObject())
        {
            if (!int.TryParse(p.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id) || p.Value.ValueKind != JsonValueKind.String || !byId.TryAdd(id, p.Value.GetString()!))
                throw new ModelFormatException($"{source}: id2label entry '{(p.Name.Length > 20 ? p.Name[..20] + "..." : p.Name)}' must map a label id (0, 1, ...) to a name");
        }
        if (byId.Count > 0 && byId.Keys.Last() != byId.Count - 1)
            throw new ModelFormatException($"{source}: id2label ids must be 0..{byId.Count - 1}");
        return byId.Values.ToArray();
    }

    private void Validate(string source)
    {
        RequirePositive(source, "vocab_size", VocabSize);
        RequirePositive(source, "hidden_size", HiddenSize);
        RequirePositive(source, "num_hidden_layers", NumHiddenLayers);
        RequirePositive(source, "num_attention_heads", NumAttentionHeads);
        RequirePositive(source, "intermediate_size", IntermediateSize);
        RequirePositive(source, "max_position_embeddings", MaxPositionEmbeddings);
        RequirePositive(source, "type_vocab_size", TypeVocabSize);
        RequirePositive(source, "embedding_size", EmbeddingSize);
        if (MaxPositionEmbeddings > MaxPositions)
            throw new ModelFormatException($"{source}: max_position_embeddings {MaxPositionEmbeddings} exceeds {MaxPositions}");
        if (HiddenSize % NumAttentionHeads != 0)
            throw new ModelFormatException($"{source}: hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumAttentionHeads}");
        if (!(LayerNormEps > 0))
            throw new ModelFormatException($"{source}: layer_norm_eps must be positive, got {LayerNormEps}");
        if (ParseActivation(HiddenAct) is null)
            throw new ModelFormatException($"{source}: hidden_act '{HiddenAct}' is not supported; supported: {string.Join(", ", SupportedActivations)}");
        if (!IsRoFormer && PositionEmbeddingType != "absolute")
            throw new ModelFormatException($"{source}: position_embedding_type '{PositionEmbeddingType}' is not supported; only \"absolute\" is implemented");
        if (IsRoFormer && HeadDim % 2 != 0)
            throw new ModelFormatException($"{source}: RoFormer needs an even head dimension for its rotary pairs, but hidden_size/num_attention_heads = {HeadDim}");
        if (IsDecoder)
            throw new ModelFormatException($"{source}: is_decoder is true; only bidirectional encoders are supported");
        if (UseTaskId)
            throw new ModelFormatException($"{source}: use_task_id is true; ERNIE task-type embeddings are not supported, only ERNIE models that are plain BERT");
    }

    private static void RequirePositive(string source, string field, int value)
    {
        if (value <= 0) throw new ModelFormatException($"{source}: {field} must be a positive integer, got {value}");
    }

    public static HiddenActivation? ParseActivation(string name) => name switch
    {
        "gelu" or "gelu_python" => HiddenActivation.Gelu,
        "gelu_new" or "gelu_fast" or "gelu_pytorch_tanh" or "gelu_accurate" => HiddenActivation.GeluTanh,
        "relu" => HiddenActivation.Relu,
        "tanh" => HiddenActivation.Tanh,
        _ => null,
    };

    /// <summary>Typed access to config.json fields with one-line errors naming the file and field.</summary>
    private readonly struct Fields(JsonElement root, string source)
    {
        private bool TryGet(string name, out JsonElement value) =>
            root.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

        public int Int(string name, int fallback) => NullableInt(name, fallback) ?? fallback;

        public int? NullableInt(string name, int? fallback)
        {
            if (!root.TryGetProperty(name, out var v)) return fallback;
            if (v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i)) return i;
            throw new ModelFormatException($"{source}: {name} must be an integer, got {v.GetRawText()}");
        }

        public double Double(string name, double fallback)
        {
            if (!TryGet(name, out var v)) return fallback;
            if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
            throw new ModelFormatException($"{source}: {name} must be a number, got {v.GetRawText()}");
        }

        public bool Bool(string name, bool fallback)
        {
            if (!TryGet(name, out var v)) return fallback;
            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new ModelFormatException($"{source}: {name} must be true or false, got {v.GetRawText()}"),
            };
        }

        public string? String(string name, string fallback)
        {
            if (!root.TryGetProperty(name, out var v)) return fallback;
            if (v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind == JsonValueKind.String) return v.GetString()!;
            throw new ModelFormatException($"{source}: {name} must be a string, got {v.GetRawText()}");
        }

        public IReadOnlyList<string> StringList(string name)
        {
            if (!TryGet(name, out var v)) return [];
            if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
                throw new ModelFormatException($"{source}: {name} must be a list of strings, got {v.GetRawText()}");
            return v.EnumerateArray().Select(e => e.GetString()!).ToArray();
        }
    }
}
