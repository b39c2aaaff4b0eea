// Reads the sentence-transformers layout (modules.json, 1_Pooling/config.json, 2_Normalize, sentence_bert_config.json).
using System.Text.Json;

namespace Semblance.Embeddings;

/// <summary>What a sentence-transformers model directory says about pooling, normalisation and sequence length.</summary>
public sealed record SentenceTransformersConfig(string? PoolingConfigPath, bool Normalize, int MaxSeqLength)
{
    public static SentenceTransformersConfig None { get; } = new(null, false, 0);

    public static SentenceTransformersConfig Read(string modelDirectory)
    {
        var modulesPath = Path.Combine(modelDirectory, "modules.json");
        int maxSeq = ReadMaxSeqLength(modelDirectory);
        if (!File.Exists(modulesPath)) return None with { MaxSeqLength = maxSeq };
        string? pooling = null;
        bool normalize = false;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(modulesPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                throw new ModelFormatException($"{modulesPath}: expected a JSON array of modules");
            foreach (var module in doc.RootElement.EnumerateArray())
            {
                var type = module.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
                var path = module.TryGetProperty("path", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "";
                if (type.EndsWith(".Pooling", StringComparison.Ordinal))
                    pooling = Path.Combine(modelDirectory, path, "config.json");
                else if (type.EndsWith(".Normalize", StringComparison.Ordinal))
                    normalize = true;
            }
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{modulesPath}: malformed JSON ({e.Message})");
        }
        if (pooling is not null && !File.Exists(pooling))
            throw new ModelFormatException($"{pooling}: not found (modules.json lists a Pooling module there)");
        return new SentenceTransformersConfig(pooling, normalize, maxSeq);
    }

    private static int ReadMaxSeqLength(string modelDirectory)
    {
        var path = Path.Combine(modelDirectory, "sentence_bert_config.json");
        if (!File.Exists(path)) return 0;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            return doc.RootElement.TryGetProperty("max_seq_length", out var m) && m.TryGetInt32(out var v) && v > 0 ? v : 0;
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: malformed JSON ({e.Message})");
        }
    }

    /// <summary>
    /// The similarity the model declares in config_sentence_transformers.json ("similarity_fn_name"); cosine when the
    /// file or the field is absent or null, as sentence-transformers does.
    /// </summary>
    public static SimilarityFunction ReadSimilarityFunction(string modelDirectory)
    {
        var path = Path.Combine(modelDirectory, "config_sentence_transformers.json");
        if (!File.Exists(path)) return SimilarityFunction.Cosine;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("similarity_fn_name", out var f) || f.ValueKind == JsonValueKind.Null)
                return SimilarityFunction.Cosine;
            if (f.ValueKind != JsonValueKind.String)
                throw new ModelFormatException($"{path}: 'similarity_fn_name' must be a string");
            return SimilarityFunctions.TryParse(f.GetString()!)
                ?? throw new ModelFormatException($"{path}: similarity_fn_name '{f.GetString()}' is not supported (expected cosine, dot, euclidean or manhattan)");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: malformed JSON ({e.Message})");
        }
    }
}
