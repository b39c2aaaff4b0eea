// The weights of a model directory (one safetensors file or a sharded index) and prefix-scoped views for module loaders.
using System.Text.Json;

namespace Semblance.Models;

/// <summary>
/// All tensors of a checkpoint by name, whichever shard holds them. Files stay mapped until disposal because F32
/// tensors are handed out as views into them. Records which tensors the model used, for its parameter count.
/// </summary>
internal sealed class ModelWeights : IDisposable, ITensorSource
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafeTensorsFile> _files;
    private readonly Dictionary<string, SafeTensorsFile> _owner;
    private readonly Dictionary<string, long> _used = new(StringComparer.Ordinal);

    private ModelWeights(string source, List<SafeTensorsFile> files, Dictionary<string, SafeTensorsFile> owner)
    {
        Source = source;
        _files = files;
        _owner = owner;
    }

    /// <summary>The file errors about missing tensors name: model.safetensors or the shard index.</summary>
    public string Source { get; }

    public IEnumerable<string> Names => _owner.Keys;

    /// <summary>Elements of every tensor fetched so far (each counted once).</summary>
    public long UsedElementCount => _used.Values.Sum();

    public WeightView Root => new(this, "", 0);

    /// <summary>Opens <c>model.safetensors</c>, or the shards listed by <c>model.safetensors.index.json</c>.</summary>
    public static ModelWeights Open(string modelDir, bool allowNonFinite = false)
    {
        var single = Path.Combine(modelDir, SingleFileName);
        if (File.Exists(single)) return FromFile(single, allowNonFinite);
        var index = Path.Combine(modelDir, IndexFileName);
        if (File.Exists(index)) return FromIndex(index, allowNonFinite);
        var other = new[] { "pytorch_model.bin", "tf_model.h5", "model.onnx", "flax_model.msgpack" }
            .FirstOrDefault(name => File.Exists(Path.Combine(modelDir, name)));
        if (other is not null)
            throw new ModelFormatException($"{single}: not found; the directory has {other}, but only safetensors weights are supported (convert with transformers' save_pretrained(safe_serialization=True))");
        throw new ModelFormatException($"{single}: not found (nor {IndexFileName}); expected the model's safetensors weights");
    }

    public static ModelWeights FromFile(string path, bool allowNonFinite = false)
    {
        var file = SafeTensorsFile.Open(path, allowNonFinite);
        var owner = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        foreach (var name in file.Tensors.Keys) owner[name] = file;
        return new ModelWeights(path, [file], owner);
    }

    /// <summary>Reads <c>{"weight_map": {"tensor": "shard file"}}</c> and opens each shard once.</summary>
    public static ModelWeights FromIndex(string indexPath, bool allowNonFinite = false)
    {
        var map = ReadWeightMap(indexPath);
        var dir = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var files = new List<SafeTensorsFile>();
        var byShard = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        var owner = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var (tensor, shard) in map)
            {
                if (!byShard.TryGetValue(shard, out var file))
                {
                    var shardPath = Path.Combine(dir, shard);
                    if (!File.Exists(shardPath))
                        throw new ModelFormatException($"{indexPath}: shard '{shard}' (holding '{tensor}') is missing from {dir}");
                    file = SafeTensorsFile.Open(shardPath, allowNonFinite);
                    files.Add(file);
                    byShard[shard] = file;
                }
                if (!file.Contains(tensor))
                    throw new ModelFormatException($"{indexPath}: weight_map puts '{tensor}' in '{shard}', but that file has no such tensor");
                owner[tensor] = file;
            }
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
        return new ModelWeights(indexPath, files, owner);
    }

    private static List<(string Tensor, string Shard)> ReadWeightMap(string indexPath)
    {
        using (var doc = IO.StrictJson.ReadFile(indexPath, static m => new ModelFormatException(m)))
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var weightMap) || weightMap.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException($"{indexPath}: expected an object with a \"weight_map\" object of tensor name → shard file");
            var entries = new List<(string, string)>();
            foreach (var entry in weightMap.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(entry.Value.GetString()))
                    throw new ModelFormatException($"{indexPath}: weight_map entry '{entry.Name}' must be a shard file name, got {entry.Value.GetRawText()}");
                string shard = entry.Value.GetString()!;
                if (Path.IsPathRooted(shard) || shard.Split('/', '\\').Contains(".."))
                    throw new ModelFormatException($"{indexPath}: weight_map entry '{entry.Name}' names '{shard}', expected a file inside the model directory");
                entries.Add((entry.Name, shard));
            }
            if (entries.Count == 0) throw new ModelFormatException($"{indexPath}: weight_map is empty");
            return entries;
        }
    }

    public bool Contains(string name) => Resolve(name) is not null;

    /// <summary>
    /// The checkpoint's name for <paramref name="name"/>: itself, or the TF-era <c>LayerNorm.gamma/beta</c>
    /// spelling that transformers still renames on load.
    /// </summary>
    private string? Resolve(string name)
    {
        if (_owner.ContainsKey(name)) return name;
        if (name.EndsWith("LayerNorm.weight", StringComparison.Ordinal))
        {
            var legacy = name[..^"weight".Length] + "gamma";
            if (_owner.ContainsKey(legacy)) return legacy;
        }
        else if (name.EndsWith("LayerNorm.bias", StringComparison.Ordinal))
        {
            var legacy = name[..^"bias".Length] + "beta";
            if (_owner.ContainsKey(legacy)) return legacy;
        }
        return null;
    }

    FloatTensor ITensorSource.Get(string name, int[] shape) => Get(name, shape);

    internal FloatTensor Get(string name, int[] expectedShape)
    {
        var resolved = Resolve(name) ?? throw new ModelFormatException($"{Source}: tensor '{name}' is missing");
        var file = _owner[resolved];
        var info = file.Info(resolved);
        if (!info.Shape.AsSpan().SequenceEqual(expectedShape))
            throw new ModelFormatException($"{file.Path}: tensor '{resolved}' has shape [{string.Join(", ", info.Shape)}], but config.json implies [{string.Join(", ", expectedShape)}]");
        var tensor = file.ReadFloat(resolved);
        _used[resolved] = tensor.Length;
        return tensor;
    }

    /// <summary>
    /// A view rooted at the first of <paramref name="prefixes"/> ("", "bert.", ...) under which <paramref name="probe"/>
    /// exists, so task-head checkpoints (BertForMaskedLM, ...) load like the bare model.
    /// </summary>
    public WeightView Detect(string probe, IEnumerable<string> prefixes)
    {
        var tried = new List<string>();
        foreach (var prefix in prefixes)
        {
            if (Contains(prefix + probe)) return new WeightView(this, prefix, prefix.Length);
            tried.Add($"'{prefix}{probe}'");
        }
        throw new ModelFormatException($"{Source}: tensor '{probe}' is missing (looked for {string.Join(", ", tried)}); is this a checkpoint of the model type in config.json?");
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }
}

/// <summary>Where module loaders get their tensors: a checkpoint (<see cref="ModelWeights"/>) or fresh initial values.</summary>
internal interface ITensorSource
{
    bool Contains(string name);

    /// <summary>The tensor <paramref name="name"/>, which must exist and have exactly <paramref name="shape"/>.</summary>
    FloatTensor Get(string name, int[] shape);

    /// <summary>What the tensors come from, for error messages (a checkpoint path, "fresh initialisation").</summary>
    string Source { get; }
}

/// <summary>The tensors under one name prefix, e.g. <c>weights.Prefix("encoder.layer.3")</c>.</summary>
internal sealed class WeightView
{
    private readonly ITensorSource _weights;
    private readonly int _root;

    internal WeightView(ITensorSource weights, string prefix, int root)
    {
        _weights = weights;
        Path = prefix;
        _root = root;
    }

    /// <summary>The prefix, with its trailing dot ("" at the root).</summary>
    public string Path { get; }

    public WeightView Prefix(string name) => new(_weights, Path + name + ".", _root);

    public bool Contains(string name) => _weights.Contains(Path + name);

    /// <summary>
    /// Checks, before anything is allocated per layer, that the checkpoint has as many layers as config.json says:
    /// this view is the encoder (<c>layer.{i}.</c> below it) and <paramref name="probe"/> a tensor every layer has.
    /// </summary>
    public void RequireLayers(int count, string probe)
    {
        if (count > 0 && !Contains($"layer.{count - 1}.{probe}"))
            throw new ModelFormatException($"{_weights.Source}: config.json says num_hidden_layers {count}, but tensor '{Path}layer.{count - 1}.{probe}' is missing; the checkpoint has fewer layers");
    }

    /// <summary>The tensor <paramref name="name"/>, which must exist and have exactly <paramref name="shape"/>.</summary>
    public FloatTensor Get(string name, params int[] shape) => _weights.Get(Path + name, shape);

    /// <summary>
    /// The model's name for <paramref name="name"/> under this view: the path below the detected root (without a
    /// <c>bert.</c>/<c>roformer.</c> task-head prefix), as a checkpoint of the bare model names it.
    /// </summary>
    public string ModelName(string name) => (Path + name)[_root..];
}
