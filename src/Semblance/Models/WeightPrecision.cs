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
    /// <summary>IEEE binary16 weights kept in 16 bits and widened to float32 as the GEMM reads them (float32 arithmetic).</summary>
    Fp16,
    /// <summary>bfloat16 weights kept in 16 bits and widened to float32 as the GEMM reads them (float32 arithmetic).</summary>
    Bf16,
}

/// <summary>
/// <c>semblance_config.json</c> in a model directory: <c>{"format_version": 1, "precision": "int8"}</c> makes the
/// model load at that precision unless the caller asks for another (docs/formats/quantized-model.md).
/// </summary>
public static class WeightPrecisions
{
    public const string ConfigFileName = "semblance_config.json";
    public const int FormatVersion = 1;

    /// <summary>The CLI spelling: fp32, int8, fp16, bf16.</summary>
    public static string Name(this WeightPrecision precision) => precision switch
    {
        WeightPrecision.Int8 => "int8",
        WeightPrecision.Fp16 => "fp16",
        WeightPrecision.Bf16 => "bf16",
        _ => "fp32",
    };

    public static WeightPrecision Parse(string text, string source) => text switch
    {
        "fp32" => WeightPrecision.Fp32,
        "int8" => WeightPrecision.Int8,
        "fp16" => WeightPrecision.Fp16,
        "bf16" => WeightPrecision.Bf16,
        _ => throw new SemblanceException($"{source}: precision '{SemblanceException.Excerpt(text)}' is not fp32, int8, fp16 or bf16"),
    };

    /// <summary>How the packed float weights of <paramref name="precision"/> are held (int8 packs its own way).</summary>
    internal static Numerics.WeightFormat Format(this WeightPrecision precision) => precision switch
    {
        WeightPrecision.Fp16 => Numerics.WeightFormat.Float16,
        WeightPrecision.Bf16 => Numerics.WeightFormat.BFloat16,
        _ => Numerics.WeightFormat.Float32,
    };

    /// <summary>
    /// The precision <paramref name="directory"/> loads at by default: what its semblance_config.json asks for; else,
    /// when its single model.safetensors stores the first layer's query weight as F16 or BF16, that 16-bit format (the
    /// weights stay resident in 16 bits); null otherwise (float32).
    /// </summary>
    public static WeightPrecision? ReadDefault(string directory)
    {
        var path = Path.Combine(directory, ConfigFileName);
        if (!File.Exists(path)) return StoredPrecision(directory);
        using var doc = StrictJson.ReadFile(path, m => new ModelFormatException(m));
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelFormatException($"{path}: expected a JSON object");
        if (!StrictJson.TryGet(doc.RootElement, "format_version", out var version) || version.ValueKind != JsonValueKind.Number
            || !version.TryGetInt32(out int v) || v != FormatVersion)
            throw new ModelFormatException($"{path}: 'format_version' must be {FormatVersion}");
        if (!StrictJson.TryGet(doc.RootElement, "precision", out var p) || p.ValueKind != JsonValueKind.String)
            throw new ModelFormatException($"{path}: 'precision' must be a string (fp32, int8, fp16 or bf16)");
        return Parse(p.GetString()!, $"{path}: 'precision'");
    }

    private static WeightPrecision? StoredPrecision(string directory)
    {
        var weights = Path.Combine(directory, ModelWeights.SingleFileName);
        if (!File.Exists(weights)) return null;
        using var file = SafeTensorsFile.Open(weights);
        var query = file.Tensors.Values.FirstOrDefault(t => t.Name.EndsWith("layer.0.attention.self.query.weight", StringComparison.Ordinal));
        return query?.DType switch
        {
            "F16" => WeightPrecision.Fp16,
            "BF16" => WeightPrecision.Bf16,
            _ => null,
        };
    }

    /// <summary>The file's text for <paramref name="precision"/>.</summary>
    public static string ConfigJson(WeightPrecision precision) =>
        $"{{\n  \"format_version\": {FormatVersion},\n  \"precision\": \"{precision.Name()}\"\n}}\n";
}
