// Small safetensors files we write ourselves (whitening, default encoder), read fully into arrays with shape checks.
namespace Semblance.Models;

internal sealed class SafeTensorsContent
{
    private readonly Dictionary<string, (int[] Shape, float[] Values)> _tensors;

    private SafeTensorsContent(string path, Dictionary<string, (int[], float[])> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        _tensors = tensors;
        Metadata = metadata;
    }

    public string Path { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public IEnumerable<string> Names => _tensors.Keys;

    public static SafeTensorsContent Read(string path, bool allowNonFinite = false)
    {
        if (Directory.Exists(path)) throw new ModelFormatException($"{path}: is a directory, expected a safetensors file");
        using var file = SafeTensorsFile.Open(path, allowNonFinite);
        var tensors = new Dictionary<string, (int[], float[])>(StringComparer.Ordinal);
        foreach (var info in file.Tensors.Values)
        {
            if (!info.IsFloat) throw new ModelFormatException($"{path}: tensor '{info.Name}' has dtype {info.DType}, expected a float dtype");
            tensors[info.Name] = (info.Shape, file.ReadFloat(info.Name).Span.ToArray());
        }
        return new SafeTensorsContent(path, tensors, new Dictionary<string, string>(file.Metadata, StringComparer.Ordinal));
    }

    /// <summary>A tensor's values, checked against the expected shape (a -1 entry accepts any size).</summary>
    public float[] Get(string name, params int[] expectedShape)
    {
        if (!_tensors.TryGetValue(name, out var t)) throw new ModelFormatException($"{Path}: tensor '{name}' is missing");
        bool ok = t.Shape.Length == expectedShape.Length;
        for (int i = 0; ok && i < expectedShape.Length; i++) ok = expectedShape[i] < 0 || expectedShape[i] == t.Shape[i];
        if (!ok)
            throw new ModelFormatException($"{Path}: tensor '{name}' has shape [{string.Join(", ", t.Shape)}], expected [{string.Join(", ", expectedShape.Select(d => d < 0 ? "*" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]");
        return t.Values;
    }

    public int[] Shape(string name) => _tensors.TryGetValue(name, out var t) ? t.Shape : throw new ModelFormatException($"{Path}: tensor '{name}' is missing");

    public string RequireMetadata(string key) =>
        Metadata.TryGetValue(key, out var v) ? v : throw new ModelFormatException($"{Path}: __metadata__ has no '{key}' entry");
}
