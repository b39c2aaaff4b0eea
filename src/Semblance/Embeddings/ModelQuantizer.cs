// `semblance quantize`: a copy of a transformer model directory that loads at int8, or with its weights stored as fp16/bf16.
using Semblance.IO;
using Semblance.Models;

namespace Semblance.Embeddings;

/// <summary>Writes a model directory derived from another: the same files, plus the precision property or narrower weights.</summary>
public static class ModelQuantizer
{
    /// <summary>The formats <see cref="Write"/> takes: int8 (load-time quantisation, recorded in semblance_config.json), fp16, bf16 (stored weights).</summary>
    public static readonly string[] Formats = ["int8", "fp16", "bf16"];

    /// <summary>
    /// int8: copies every file and writes <see cref="WeightPrecisions.ConfigFileName"/> asking for int8, so the
    /// directory loads quantised unless the caller asks for fp32 (the weights stay float32 on disk; quantising them
    /// at load takes well under a second). fp16/bf16: rewrites model.safetensors with every float tensor rounded
    /// to that type (half the bytes on disk; the directory then loads with its Linear weights resident in 16 bits).
    /// </summary>
    public static void Write(ModelDirectory source, string output, string format, bool force)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!Formats.Contains(format)) throw new SemblanceException($"--precision: '{SemblanceException.Excerpt(format)}' is not one of {string.Join(", ", Formats)}");
        if (source.Transformer is null)
            throw new SemblanceException($"{source.Path}: a {source.ModelType} model cannot be quantised; quantize takes BERT, ERNIE and RoFormer models");
        string from = Path.GetFullPath(source.Path), to = Path.GetFullPath(output);
        if (string.Equals(from.TrimEnd(Path.DirectorySeparatorChar), to.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
            throw new SemblanceException($"{output}: is the source model directory; choose a new output directory");
        var weightsPath = Path.Combine(from, ModelWeights.SingleFileName);
        if (format != "int8" && !File.Exists(weightsPath))
            throw new ModelFormatException($"{from}: --precision {format} needs a single {ModelWeights.SingleFileName} (sharded checkpoints are not converted)");
        OutputDirectory.Claim(to, OutputDirectory.ModelKind, force, "pass --force to replace it");
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (relative is OutputDirectory.MarkerFile or WeightPrecisions.ConfigFileName) continue;
            if (format != "int8" && relative == ModelWeights.SingleFileName) continue;
            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            AtomicFile.Write(target, stream =>
            {
                using var input = File.OpenRead(file);
                input.CopyTo(stream);
            });
        }
        if (format == "int8")
        {
            AtomicFile.WriteAllText(Path.Combine(to, WeightPrecisions.ConfigFileName), WeightPrecisions.ConfigJson(WeightPrecision.Int8));
            return;
        }
        string dtype = format == "fp16" ? "F16" : "BF16";
        using var file32 = SafeTensorsFile.Open(weightsPath, allowNonFinite: true);
        var writer = new SafeTensorsWriter();
        foreach (var (name, k) in file32.Metadata) writer.Metadata[name] = k;
        foreach (var info in file32.Tensors.Values.OrderBy(t => t.Offset))
        {
            if (info.IsFloat) writer.Add(info.Name, info.Shape, file32.ReadFloat(info.Name).Span, dtype);
            else writer.AddRaw(info.Name, info.DType, info.Shape, file32.RawBytes(info.Name));
        }
        writer.Save(Path.Combine(to, ModelWeights.SingleFileName));
    }
}
