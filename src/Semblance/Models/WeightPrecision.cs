// How an inference model holds its Linear weights, and the model-directory file that sets the default.
using System.Text.Json;
using Semblance.IO;

namespace Semblance.Models;

/// <summary>The number format of the encoder layers' Linear weights at inference.</summary>
public enum WeightPrecision
{
    /// <summary>float32, packed (the reference).</summary>
    Fp32,
    /// <summary>Per-output-channel symmetric int8 weights with per-row dynamic asymmetric uint8 activations (<see cref="Numerics.QuantizedWeight"/>).</summary>
    Int8,
}

/// <summary>
/// <c>semblance_config.json</c> in a model directory: <c>{"format_version": 1, "precision": "int8"}</c> makes the
/// model load at that precision unless the caller asks for another (docs/formats/quantized-model.md).
/// </summary>
public static class WeightPrecisions
{
    public const string ConfigFileName = "semblance_config.json";
    public const int FormatVersion = 1;

    /// <summary>The CLI spelling: fp32, int8.</summary>
    public static string Name(this WeightPrecision precision) => precision == WeightPrecision.Int8 ? "int8" : "fp32";

    public static WeightPrecision Parse(string text, string source) => text switch
    {
        "fp32" => WeightPrecision.Fp32,
        "int8" => WeightPrecision.Int8,
        _ => throw new SemblanceException($"{source}: precision '{SemblanceException.Excerpt(text)}' is not fp32 or int8"),
    };

    /// <summary>The precision <paramref name="directory"/>'s semblance_config.json asks for; null when there is no such file.</summary>
    public static WeightPrecision? ReadDefault(string directory)
    {
        var path = Path.Combine(directory, ConfigFileName);
        if (!File.Exists(path)) return null;
        using var doc = StrictJson.ReadFile(path, m => new ModelFormatException(m));
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelFormatException($"{path}: expected a JSON object");
        if (!StrictJson.TryGet(doc.RootElement, "format_version", out var version) || version.ValueKind != JsonValueKind.Number
            || !version.TryGetInt32(out int v) || v != FormatVersion)
            throw new ModelFormatException($"{path}: 'format_version' must be {FormatVersion}");
        if (!StrictJson.TryGet(doc.RootElement, "precision", out var p) || p.ValueKind != JsonValueKind.String)
            throw new ModelFormatException($"{path}: 'precision' must be a string (fp32 or int8)");
        return Parse(p.GetString()!, $"{path}: 'precision'");
    }

    /// <summary>The file's text for <paramref name="precision"/>.</summary>
    public static string ConfigJson(WeightPrecision precision) =>
        $"{{\n  \"format_version\": {FormatVersion},\n  \"precision\": \"{precision.Name()}\"\n}}\n";
}
