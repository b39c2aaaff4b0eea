// config.json of the from-scratch GRU sentence encoder ("model_type": "semblance-gru"), read and written field by field.
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Semblance.Models;

/// <summary>
/// Sizes of <c>nn.Embedding(vocab_size, embedding_size)</c> + <c>nn.GRU(embedding_size, hidden_size,
/// bidirectional, batch_first=True)</c> + pooling: "mean" (the mean of the states over the real tokens, the default)
/// or "last" (each direction's final state, PyTorch's h_n; one direction with "last" is the GRU + AM-Softmax post's
/// encoder, Keras <c>GRU(units)</c> without return_sequences). Every field is checked with a one-line error naming the
/// file and the field; unknown fields are rejected because this format is ours and a misspelt size would otherwise
/// silently fall back to a default.
/// </summary>
public sealed class GruConfig
{
    public const string ModelTypeName = "semblance-gru";

    /// <summary>The fields config.json may hold, in the order <see cref="ToJson"/> writes them.</summary>
    public static IReadOnlyList<string> Fields { get; } =
        ["model_type", "vocab_size", "embedding_size", "hidden_size", "bidirectional", "pooling", "max_length"];

    public int VocabSize { get; init; }

    public int EmbeddingSize { get; init; }

    /// <summary>Per direction; the sentence vector has hidden_size values per direction.</summary>
    public int HiddenSize { get; init; }

    /// <summary>Both directions (default) or the forward one only.</summary>
    public bool Bidirectional { get; init; } = true;

    /// <summary>The sentence vector: the mean of the states over the real tokens, or each direction's final state.</summary>
    public GruPooling Pooling { get; init; } = GruPooling.Mean;

    /// <summary>Tokens per sentence including [CLS] and [SEP] when encoding (default 512).</summary>
    public int MaxLength { get; init; } = 512;

    public int Directions => Bidirectional ? 2 : 1;

    public int Dimension => Directions * HiddenSize;

    /// <summary>Whether config.json at <paramref name="path"/> names this model type; false when it cannot be read as such.</summary>
    public static bool Declares(string path)
    {
        try
        {
            using var doc = IO.StrictJson.ReadFile(path, static m => new ModelFormatException(m), IO.StrictJson.Lenient);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("model_type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == ModelTypeName;
        }
        catch (SemblanceException)
        {
            return false;
        }
    }

    public static GruConfig Load(string path) => Parse(ModelFiles.ReadJson(path, $"expected a {ModelTypeName} config.json"), path);

    /// <summary>Parses config.json text; <paramref name="source"/> names the file in error messages.</summary>
    public static GruConfig Parse(string json, string source) =>
        Parse(IO.StrictJson.Parse(json, source, static m => new ModelFormatException(m), IO.StrictJson.Lenient), source);

    private static GruConfig Parse(JsonDocument doc, string source)
    {
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException($"{source}: expected a JSON object, got {root.ValueKind}");
            foreach (var property in root.EnumerateObject())
                if (!Fields.Contains(property.Name))
                    throw new ModelFormatException($"{source}: unknown field '{property.Name}'; a {ModelTypeName} config has {string.Join(", ", Fields)}");
            if (!IO.StrictJson.TryGet(root, "model_type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != ModelTypeName)
                throw new ModelFormatException($"{source}: model_type must be \"{ModelTypeName}\", got {(IO.StrictJson.TryGet(root, "model_type", out var t) ? t.GetRawText() : "nothing")}");
            if (Optional(root, "bidirectional") is { } bidirectional && bidirectional.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                throw new ModelFormatException($"{source}: bidirectional must be true or false, got {bidirectional.GetRawText()}");
            var poolingMode = GruPooling.Mean;
            if (Optional(root, "pooling") is { } pooling)
                poolingMode = pooling.ValueKind == JsonValueKind.String && pooling.GetString() is "mean" or "last"
                    ? (pooling.GetString() == "last" ? GruPooling.Last : GruPooling.Mean)
                    : throw new ModelFormatException($"{source}: pooling must be \"mean\" (the mean of the states over the real tokens) or \"last\" (each direction's final state), got {pooling.GetRawText()}");
            var config = new GruConfig
            {
                VocabSize = PositiveInt(root, source, "vocab_size", null),
                EmbeddingSize = PositiveInt(root, source, "embedding_size", null),
                HiddenSize = PositiveInt(root, source, "hidden_size", null),
                MaxLength = PositiveInt(root, source, "max_length", 512),
                Bidirectional = Optional(root, "bidirectional") is not { ValueKind: JsonValueKind.False },
                Pooling = poolingMode,
            };
            if (config.MaxLength < 2)
                throw new ModelFormatException($"{source}: max_length must be at least 2 ([CLS] and [SEP]), got {config.MaxLength}");
            return config;
        }
    }

    private static JsonElement? Optional(JsonElement root, string name) =>
        IO.StrictJson.TryGet(root, name, out var v) ? v : null;

    private static int PositiveInt(JsonElement root, string source, string name, int? fallback)
    {
        if (!IO.StrictJson.TryGet(root, name, out var v))
            return fallback ?? throw new ModelFormatException($"{source}: {name} is missing; expected a positive integer");
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) && i > 0) return i;
        throw new ModelFormatException($"{source}: {name} must be a positive integer, got {v.GetRawText()}");
    }

    /// <summary>The config.json text this config reads back as (every field explicit).</summary>
    public string ToJson() => new JsonObject
    {
        ["model_type"] = ModelTypeName,
        ["vocab_size"] = VocabSize,
        ["embedding_size"] = EmbeddingSize,
        ["hidden_size"] = HiddenSize,
        ["bidirectional"] = Bidirectional,
        ["pooling"] = Pooling == GruPooling.Last ? "last" : "mean",
        ["max_length"] = MaxLength,
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";

    public string Describe() =>
        $"{ModelTypeName} (embedding {EmbeddingSize}, hidden {HiddenSize} per direction{(Bidirectional ? "" : ", forward only")}{(Pooling == GruPooling.Last ? ", last-state pooling" : "")}, vocab {VocabSize})";
}

/// <summary>How <see cref="GruConfig"/>'s encoder turns the GRU states into the sentence vector.</summary>
public enum GruPooling
{
    /// <summary>The mean of each direction's states over the sentence's real tokens.</summary>
    Mean,

    /// <summary>Each direction's final state: forward after the last token, backward after the first (PyTorch's h_n).</summary>
    Last,
}
