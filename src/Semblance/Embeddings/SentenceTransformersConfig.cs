// Reads and writes the sentence-transformers layout (modules.json, 1_Pooling/config.json, 2_Normalize, sentence_bert_config.json).
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Semblance.Embeddings;

/// <summary>What a sentence-transformers model directory says about pooling, normalisation and sequence length.</summary>
public sealed record SentenceTransformersConfig(string? PoolingConfigPath, bool Normalize, int MaxSeqLength)
{
    // One shared empty instance, so that configs without prompts compare equal as records (declared before None, which uses it).
    private static readonly IReadOnlyDictionary<string, string> NoPrompts = new Dictionary<string, string>();

    public static SentenceTransformersConfig None { get; } = new(null, false, 0);

    /// <summary>config_sentence_transformers.json's <c>prompts</c>: name → text prepended to inputs encoded under that name.</summary>
    public IReadOnlyDictionary<string, string> Prompts { get; init; } = NoPrompts;

    /// <summary>config_sentence_transformers.json's <c>default_prompt_name</c>: the prompt applied when none is named; null = none.</summary>
    public string? DefaultPromptName { get; init; }

    /// <summary>
    /// The pooling Semblance's own <c>semblance_pooling.json</c> records (written by <c>semblance train</c>: the pooling
    /// the model was trained with); it takes precedence over the Pooling module, which cannot name first-last-avg,
    /// pooler or pooler-linear. Null when the file is absent.
    /// </summary>
    public PoolingMode? RecordedPooling { get; init; }

    /// <summary>
    /// The pooling the directory declares for a model of width <paramref name="hiddenSize"/>: <see cref="RecordedPooling"/>,
    /// else the sentence-transformers Pooling module's mode; null when it declares none.
    /// </summary>
    internal PoolingMode? DeclaredPooling(int hiddenSize) =>
        RecordedPooling ?? (PoolingConfigPath is not null ? Embeddings.Pooling.LoadSentenceTransformersConfig(PoolingConfigPath, hiddenSize) : null);

    /// <summary>The file of <see cref="RecordedPooling"/>, in the model directory.</summary>
    public const string RecordedPoolingFile = "semblance_pooling.json";

    public static SentenceTransformersConfig Read(string modelDirectory)
    {
        var (prompts, defaultPrompt) = ReadPrompts(modelDirectory);
        return ReadModules(modelDirectory) with { Prompts = prompts, DefaultPromptName = defaultPrompt, RecordedPooling = ReadRecordedPooling(modelDirectory) };
    }

    private static PoolingMode? ReadRecordedPooling(string modelDirectory)
    {
        var path = Path.Combine(modelDirectory, RecordedPoolingFile);
        if (!File.Exists(path)) return null;
        using var doc = IO.StrictJson.ReadFile(path, static m => new ModelFormatException(m));
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !IO.StrictJson.TryGet(doc.RootElement, "pooling", out var p) || p.ValueKind != JsonValueKind.String)
            throw new ModelFormatException($"{path}: expected {{\"pooling\": \"{Pooling.CliNames}\"}}");
        try
        {
            return Pooling.Parse(p.GetString()!, path);
        }
        catch (SemblanceException e)
        {
            throw new ModelFormatException(e.Message);
        }
    }

    /// <summary>Writes <see cref="RecordedPoolingFile"/> naming <paramref name="mode"/>.</summary>
    public static void WriteRecordedPooling(string modelDirectory, PoolingMode mode) =>
        File.WriteAllText(Path.Combine(modelDirectory, RecordedPoolingFile), new JsonObject { ["pooling"] = Pooling.Format(mode) }.ToJsonString() + "\n");

    /// <summary>
    /// The sentence-transformers Pooling mode nearest <paramref name="mode"/>: itself for cls, mean and max; mean for
    /// last-avg and first-last-avg; cls for pooler and pooler-linear (the [CLS] vector they transform).
    /// </summary>
    public static PoolingMode ClosestModule(PoolingMode mode) => mode switch
    {
        PoolingMode.Cls or PoolingMode.Mean or PoolingMode.Max => mode,
        PoolingMode.Pooler or PoolingMode.PoolerLinear => PoolingMode.Cls,
        _ => PoolingMode.Mean,
    };

    /// <summary>Reads <c>prompts</c> and <c>default_prompt_name</c> from config_sentence_transformers.json (absent file: none).</summary>
    private static (IReadOnlyDictionary<string, string>, string?) ReadPrompts(string modelDirectory)
    {
        var path = Path.Combine(modelDirectory, "config_sentence_transformers.json");
        if (!File.Exists(path)) return (NoPrompts, null);
        var prompts = new Dictionary<string, string>(StringComparer.Ordinal);
        string? defaultName = null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelFormatException($"{path}: expected a JSON object");
            if (doc.RootElement.TryGetProperty("prompts", out var p) && p.ValueKind != JsonValueKind.Null)
            {
                if (p.ValueKind != JsonValueKind.Object) throw new ModelFormatException($"{path}: 'prompts' must be an object of name → text");
                foreach (var kv in p.EnumerateObject())
                {
                    if (kv.Value.ValueKind != JsonValueKind.String) throw new ModelFormatException($"{path}: prompt '{kv.Name}' must be a string");
                    prompts[kv.Name] = kv.Value.GetString()!;
                }
            }
            if (doc.RootElement.TryGetProperty("default_prompt_name", out var d) && d.ValueKind != JsonValueKind.Null)
            {
                if (d.ValueKind != JsonValueKind.String) throw new ModelFormatException($"{path}: 'default_prompt_name' must be a string or null");
                defaultName = d.GetString()!;
                if (!prompts.ContainsKey(defaultName)) throw new ModelFormatException($"{path}: default_prompt_name '{defaultName}' is not one of the prompts ({string.Join(", ", prompts.Keys)})");
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new ModelFormatException($"{path}: malformed JSON ({e.Message})");
        }
        return (prompts, defaultName);
    }

    private static SentenceTransformersConfig ReadModules(string modelDirectory)
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

    /// <summary>
    /// Writes config_sentence_transformers.json with <c>prompts</c> and <c>default_prompt_name</c> (and the cosine
    /// <c>similarity_fn_name</c> sentence-transformers writes by default), so that <see cref="Read"/> gives them back.
    /// </summary>
    public static void WritePrompts(string modelDirectory, IReadOnlyDictionary<string, string> prompts, string? defaultPromptName)
    {
        if (defaultPromptName is not null && !prompts.ContainsKey(defaultPromptName))
            throw new SemblanceException($"default prompt '{defaultPromptName}' is not one of the prompts");
        var promptObject = new JsonObject();
        foreach (var (name, text) in prompts.OrderBy(p => p.Key, StringComparer.Ordinal)) promptObject[name] = text;
        var config = new JsonObject
        {
            ["prompts"] = promptObject,
            ["default_prompt_name"] = defaultPromptName,
            ["similarity_fn_name"] = "cosine",
        };
        File.WriteAllText(Path.Combine(modelDirectory, "config_sentence_transformers.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
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
        using var doc = IO.StrictJson.ReadFile(path, static m => new ModelFormatException(m));
        return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("max_seq_length", out var m)
            && m.ValueKind == JsonValueKind.Number && m.TryGetInt32(out var v) && v > 0 ? v : 0;
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
