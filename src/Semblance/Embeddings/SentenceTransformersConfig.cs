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
        {
            using var doc = IO.StrictJson.ReadFile(modulesPath, static m => new ModelFormatException(m));
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                throw new ModelFormatException($"{modulesPath}: expected a JSON array of modules");
            foreach (var module in doc.RootElement.EnumerateArray())
            {
                var type = IO.StrictJson.TryGet(module, "type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
                var path = IO.StrictJson.TryGet(module, "path", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "";
                if (type.EndsWith(".Pooling", StringComparison.Ordinal))
                    pooling = Path.Combine(modelDirectory, path, "config.json");
                else if (type.EndsWith(".Normalize", StringComparison.Ordinal))
                    normalize = true;
            }
        }
        if (pooling is not null && !File.Exists(pooling))
            throw new ModelFormatException($"{pooling}: not found (modules.json lists a Pooling module there)");
        return new SentenceTransformersConfig(pooling, normalize, maxSeq);
    }

    private static int ReadMaxSeqLength(string modelDirectory)
    {
        var path = Path.Combine(modelDirectory, "sentence_bert_config.json");
        if (!File.Exists(path)) return 0;
        using var doc = IO.StrictJson.ReadFile(path, static m => new ModelFormatException(m));
        return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("max_seq_length", out var m)
            && m.ValueKind == JsonValueKind.Number && m.TryGetInt32(out var v) && v > 0 ? v : 0;
    }
}
