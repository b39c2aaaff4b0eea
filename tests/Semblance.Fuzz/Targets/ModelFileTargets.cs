// Targets for the files of a model directory: safetensors, config.json, tokenizer.json, vocab.txt, whitening.
using System.Text;
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Text;

namespace Semblance.Fuzz.Targets;

/// <summary>safetensors: header JSON, dtypes, shapes and data_offsets, then every tensor read.</summary>
public sealed class SafeTensorsTarget : FuzzTarget
{
    public override string Name => "safetensors";
    public override string Description => "SafeTensorsFile.Open + ReadFloat/RawBytes of every tensor";
    public override IEnumerable<byte[]> Seeds() => Templates.SafeTensorsSeeds();

    public override void Execute(byte[] input, string work)
    {
        var path = Path.Combine(work, "model.safetensors");
        File.WriteAllBytes(path, input);
        using var file = SafeTensorsFile.Open(path);
        double sum = 0;
        foreach (var info in file.Tensors.Values)
        {
            if (info.IsFloat) foreach (var x in file.ReadFloat(info.Name).Span) sum += x;
            else sum += file.RawBytes(info.Name).Length;
        }
        GC.KeepAlive(sum);
    }
}

/// <summary>config.json of a model directory whose weights are a valid tiny checkpoint: the config is loaded against them.</summary>
public sealed class ConfigTarget : FuzzTarget
{
    public override string Name => "config";
    public override string Description => "config.json → TransformerLoader.Load (weights fixed) and GruConfig.Load";

    public override IEnumerable<byte[]> Seeds() =>
        [Encoding.UTF8.GetBytes(Templates.BertConfig()), Encoding.UTF8.GetBytes(Templates.RoFormerConfig()), Encoding.UTF8.GetBytes(Templates.GruConfig())];

    public override void Execute(byte[] input, string work)
    {
        var config = Path.Combine(work, "config.json");
        File.WriteAllBytes(config, input);
        bool roformer = input.AsSpan().IndexOf("roformer"u8) >= 0;
        File.WriteAllBytes(Path.Combine(work, "model.safetensors"), roformer ? Templates.RoFormerWeights.Value : Templates.BertWeights.Value);
        if (input.AsSpan().IndexOf("semblance-gru"u8) >= 0)
        {
            GruConfig.Load(config);
            return;
        }
        using var model = TransformerLoader.Load(work);
        GC.KeepAlive(model.HiddenSize);
    }
}

/// <summary>tokenizer.json → BertTokenizer, then tokenising a few strings with it.</summary>
public sealed class TokenizerJsonTarget : FuzzTarget
{
    public override string Name => "tokenizer-json";
    public override string Description => "tokenizer.json → BertTokenizer.Load + Encode";
    public override IEnumerable<byte[]> Seeds() =>
        [Encoding.UTF8.GetBytes(Templates.TokenizerJson()), Encoding.UTF8.GetBytes(Templates.TokenizerJson(false, "false"))];

    public override void Execute(byte[] input, string work)
    {
        File.WriteAllBytes(Path.Combine(work, "tokenizer.json"), input);
        Tokenize(BertTokenizer.Load(work));
    }

    internal static void Tokenize(BertTokenizer tokenizer)
    {
        foreach (var text in new[] { "Hello world!", "the dogs running, café 测试.", "", "[CLS] [MASK] ##s" })
            GC.KeepAlive(tokenizer.Encode(text, 16));
    }
}

/// <summary>vocab.txt (with no tokenizer.json) → BertTokenizer, then tokenising.</summary>
public sealed class VocabTarget : FuzzTarget
{
    public override string Name => "vocab";
    public override string Description => "vocab.txt → BertTokenizer.Load + Encode";
    public override IEnumerable<byte[]> Seeds() => [Encoding.UTF8.GetBytes(Templates.VocabTxt), Encoding.UTF8.GetBytes(Templates.VocabTxt.Replace("\n", "\r\n"))];

    public override void Execute(byte[] input, string work)
    {
        File.WriteAllBytes(Path.Combine(work, "vocab.txt"), input);
        TokenizerJsonTarget.Tokenize(BertTokenizer.Load(work));
    }
}

/// <summary>A whitening file (safetensors with metadata) → Whitening.Load, then applied.</summary>
public sealed class WhiteningTarget : FuzzTarget
{
    public override string Name => "whitening";
    public override string Description => "whitening safetensors → Whitening.Load + Apply";
    public override IEnumerable<byte[]> Seeds() => [Templates.SafeTensorsSeeds().ElementAt(1)];

    public override void Execute(byte[] input, string work)
    {
        var path = Path.Combine(work, "whitening.safetensors");
        File.WriteAllBytes(path, input);
        var w = Whitening.Load(path);
        var x = new float[w.InputDimension * 2];
        x[0] = 1;
        w.Apply(x, new float[w.OutputDimension * 2], 2);
    }
}

/// <summary>An ONNX model → OnnxImporter (protobuf wire format, graph reading, config inference, the written directory).</summary>
public sealed class OnnxTarget : FuzzTarget
{
    private static readonly string Data = Path.Combine(RepositoryRoot(), "tests", "Semblance.Tests", "Models", "Onnx", "Data");

    public override string Name => "onnx";
    public override string Description => "model.onnx → OnnxImporter.Import into a new directory";

    public override IEnumerable<byte[]> Seeds() =>
        new[] { "bert_relu.onnx", "bert_notype.onnx" }.Select(f => File.ReadAllBytes(Path.Combine(Data, f)));

    public override void Execute(byte[] input, string work)
    {
        using var onnx = new MemoryStream(input, writable: false);
        var result = Semblance.Models.Onnx.OnnxImporter.Import(onnx, "fuzz.onnx",
            new Semblance.Models.Onnx.OnnxImportOptions { VocabularyPath = Path.Combine(Data, "vocab.txt") }, Path.Combine(work, "imported"));
        GC.KeepAlive(result.TensorCount);
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Semblance.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("the fuzz target runs from inside the repository");
    }
}
