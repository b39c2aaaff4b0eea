// Reads and writes the sentence-transformers layout (modules.json, 1_Pooling/config.json, 2_Normalize, sentence_bert_config.json).
using System.Text.Json;
using System.Text.Json.Nodes;

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

    /// <summary>
    /// Writes the sentence-transformers module files into <paramref name="modelDirectory"/> so that <see cref="Read"/>
    /// gives them back: modules.json (Transformer, then Pooling in 1_Pooling when <paramref name="pooling"/> is given,
    /// then Normalize in 2_Normalize when <paramref name="normalize"/>), 1_Pooling/config.json, and
    /// sentence_bert_config.json when <paramref name="maxSeqLength"/> &gt; 0. Pooling must be cls, mean (last-avg) or
    /// max, the modes sentence-transformers' Pooling module has; normalisation needs a pooling module before it.
    /// </summary>
    public static void Write(string modelDirectory, PoolingMode? pooling, bool normalize, int maxSeqLength, int wordEmbeddingDimension)
    {
        if (normalize && pooling is null) throw new SemblanceException("normalisation needs a pooling mode (sentence-transformers normalises the pooled vector)");
        if (maxSeqLength < 0) throw new SemblanceException($"max_seq_length must be positive, got {maxSeqLength}");
        var options = new JsonSerializerOptions { WriteIndented = true };
        if (pooling is { } mode)
        {
            RequireModule(mode);
            var modules = new JsonArray(Module(0, "", "Transformer"), Module(1, "1_Pooling", "Pooling"));
            if (normalize) modules.Add(Module(2, "2_Normalize", "Normalize"));
            File.WriteAllText(Path.Combine(modelDirectory, "modules.json"), modules.ToJsonString(options) + "\n");
            var poolingDir = Directory.CreateDirectory(Path.Combine(modelDirectory, "1_Pooling")).FullName;
            var config = new JsonObject
            {
                ["word_embedding_dimension"] = wordEmbeddingDimension,
                ["pooling_mode_cls_token"] = mode == PoolingMode.Cls,
                ["pooling_mode_mean_tokens"] = mode is PoolingMode.Mean or PoolingMode.LastAvg,
                ["pooling_mode_max_tokens"] = mode == PoolingMode.Max,
                ["pooling_mode_mean_sqrt_len_tokens"] = false,
                ["pooling_mode_weightedmean_tokens"] = false,
                ["pooling_mode_lasttoken"] = false,
            };
            File.WriteAllText(Path.Combine(poolingDir, "config.json"), config.ToJsonString(options) + "\n");
            if (normalize) Directory.CreateDirectory(Path.Combine(modelDirectory, "2_Normalize"));
        }
        if (maxSeqLength > 0)
        {
            var bert = new JsonObject { ["max_seq_length"] = maxSeqLength, ["do_lower_case"] = false };
            File.WriteAllText(Path.Combine(modelDirectory, "sentence_bert_config.json"), bert.ToJsonString(options) + "\n");
        }
    }

    /// <summary>Fails unless <paramref name="mode"/> is one sentence-transformers' Pooling module has (cls, mean, max).</summary>
    public static void RequireModule(PoolingMode mode)
    {
        if (mode is not (PoolingMode.Cls or PoolingMode.Mean or PoolingMode.LastAvg or PoolingMode.Max))
            throw new SemblanceException($"pooling '{Pooling.Format(mode)}' has no sentence-transformers Pooling module; use cls, mean or max");
    }

    private static JsonObject Module(int index, string path, string type) => new()
    {
        ["idx"] = index,
        ["name"] = index.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["path"] = path,
        ["type"] = "sentence_transformers.models." + type,
    };

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
}
