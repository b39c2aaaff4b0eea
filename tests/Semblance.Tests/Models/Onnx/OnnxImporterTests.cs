// ONNX weight import on small torch.onnx exports made by tools/onnx/make_test_onnx.py: outputs against torch, the
// inferred config, other storage forms of the same weights, and the one-line errors for graphs it must refuse.
using Semblance.Embeddings;
using Semblance.IO;
using Semblance.Models;
using Semblance.Models.Onnx;
using Semblance.Numerics;

namespace Semblance.Tests.Models.Onnx;

public sealed class OnnxImporterTests : IDisposable
{
    private static readonly string Data = Path.Combine(AppContext.BaseDirectory, "Models", "Onnx", "Data");
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Onnx(string name) => Path.Combine(Data, name + ".onnx");

    private static OnnxImportOptions Options => new() { VocabularyPath = Path.Combine(Data, "vocab.txt") };

    /// <summary>Runs the imported model on the script's token ids and compares with torch's outputs.</summary>
    private static void AssertMatchesTorch(string modelDir, string name, bool pooler)
    {
        var ids = Npy.ReadInt64(Path.Combine(Data, name + ".ids.npy"));
        var sequences = Enumerable.Range(0, ids.Rows).Select(r => ids.Row(r).ToArray().Select(v => (int)v).ToArray()).ToList();
        using var model = TransformerLoader.Load(modelDir);
        Assert.Equal(pooler, model.HasPooler);
        using var ws = model.CreateWorkspace();
        var output = model.Forward(TokenBatch.FromSequences(sequences), new ForwardRequest(Pooler: pooler), ws, ComputeContext.Single);
        AssertClose(Npy.ReadFloat32(Path.Combine(Data, name + ".last.npy")).Data, output.LastHiddenState);
        if (pooler) AssertClose(Npy.ReadFloat32(Path.Combine(Data, name + ".pooler.npy")).Data, output.PoolerOutput);
    }

    private static void AssertClose(float[] expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        Assert.True(worst <= 1e-5, $"max abs difference {worst:G3} > 1e-5");
    }

    [Theory]
    [InlineData("bert_pooler", 2, 32, 4, 64, "gelu", 1e-12, 64, 2, true, true)]
    [InlineData("bert_notype", 3, 24, 2, 40, "gelu_new", 1e-5, 40, 2, false, false)]
    [InlineData("bert_relu", 1, 16, 4, 32, "relu", 1e-7, 16, 3, true, true)]
    [InlineData("bert_nofold", 2, 16, 2, 24, "gelu", 1e-12, 20, 2, false, false)]
    [InlineData("bert_rows", 2, 16, 4, 24, "gelu", 1e-6, 20, 2, true, false)]
    public void Import_InfersConfigAndMatchesTorch(string name, int layers, int hidden, int heads, int ffn, string act, double eps,
        int positions, int types, bool pooler, bool typeInput)
    {
        var output = Path.Combine(_dir.Path, name);
        var result = OnnxImporter.Import(Onnx(name), Options, output);
        var c = TransformerLoader.LoadConfig(output);
        Assert.Equal(("bert", 45, layers, hidden, heads, ffn, act, eps, positions, types, (int?)0),
            (c.ModelType, c.VocabSize, c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize, c.HiddenAct, c.LayerNormEps,
             c.MaxPositionEmbeddings, c.TypeVocabSize, c.PadTokenId));
        Assert.Equal((pooler, typeInput, 45, 5 + 16 * layers + (pooler ? 2 : 0)), (result.HasPooler, result.HasTokenTypeInput, result.VocabularyTokens, result.TensorCount));
        Assert.Equal(result.Config.ToJson(), File.ReadAllText(Path.Combine(output, "config.json")));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Onnx(name)))), result.OnnxSha256);
        Assert.Equal("pytorch", result.Producer);
        AssertMatchesTorch(output, name, pooler);
    }

    [Fact]
    public void Import_WritesTokenizerFilesWithUnixLineEnds()
    {
        var output = Path.Combine(_dir.Path, "m");
        OnnxImporter.Import(Onnx("bert_pooler"), Options with { DoLowerCase = false }, output);
        Assert.Contains("\r\n", File.ReadAllText(Path.Combine(Data, "vocab.txt")));
        var vocab = File.ReadAllText(Path.Combine(output, "vocab.txt"));
        Assert.DoesNotContain('\r', vocab);
        Assert.StartsWith("[PAD]\n[UNK]\n[CLS]\n", vocab);
        var tokenizer = Semblance.Text.BertTokenizer.Load(output);
        Assert.False(tokenizer.DoLowerCase);
        Assert.Equal(45, tokenizer.VocabSize);
    }

    [Fact]
    public void Import_FromStreams_WithSentenceTransformersModules_LoadsAsSentenceEncoder()
    {
        var output = Path.Combine(_dir.Path, "st");
        using (var onnx = File.OpenRead(Onnx("bert_notype")))
        using (var vocab = File.OpenRead(Path.Combine(Data, "vocab.txt")))
        {
            OnnxImporter.Import(onnx, "bert_notype.onnx", new OnnxImportOptions
            {
                VocabularyStream = vocab, Pooling = PoolingMode.Cls, Normalize = true, MaxSeqLength = 12,
            }, output);
        }
        var st = SentenceTransformersConfig.Read(output);
        Assert.Equal((true, 12), (st.Normalize, st.MaxSeqLength));
        using var encoder = SentenceEncoder.Load(output);
        Assert.Equal(("cls", true, 12), (encoder.Backend.Pooling, encoder.Backend.NormalizeByDefault, encoder.Backend.MaxLength));
        var v = encoder.Encode("the cat sat on the mat .");
        Assert.Equal(24, v.Length);
        Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 5);
    }

    [Fact]
    public void Import_ExternalDataAndFloatData_GiveTheSameModel()
    {
        var bytes = File.ReadAllBytes(Onnx("bert_pooler"));
        var external = _dir.Sub("external");
        File.WriteAllBytes(Path.Combine(external, "model.onnx"), OnnxRewriter.ToExternalData(bytes, Path.Combine(external, "model.onnx.data"), "model.onnx.data"));
        Assert.True(new FileInfo(Path.Combine(external, "model.onnx.data")).Length > bytes.Length / 2);
        var fromExternal = Path.Combine(_dir.Path, "from-external");
        OnnxImporter.Import(Path.Combine(external, "model.onnx"), Options, fromExternal);
        AssertMatchesTorch(fromExternal, "bert_pooler", pooler: true);

        var floats = _dir.File("floats.onnx");
        File.WriteAllBytes(floats, OnnxRewriter.ToFloatData(bytes));
        var fromFloats = Path.Combine(_dir.Path, "from-floats");
        OnnxImporter.Import(floats, Options, fromFloats);
        Assert.Equal(File.ReadAllBytes(Path.Combine(fromExternal, "model.safetensors")), File.ReadAllBytes(Path.Combine(fromFloats, "model.safetensors")));
    }

    /// <summary>The import fails with one line containing every fragment and leaves the parent directory as it was.</summary>
    private void ImportFails(Func<OnnxImportResult> import, params string[] fragments) => ImportFails<SemblanceException>(import, fragments);

    private void ImportFails<T>(Func<OnnxImportResult> import, params string[] fragments) where T : SemblanceException
    {
        var before = Directory.GetFileSystemEntries(_dir.Path).Order().ToList();
        var ex = Assert.ThrowsAny<T>(() => import());
        Assert.DoesNotContain('\n', ex.Message);
        foreach (var f in fragments) Assert.Contains(f, ex.Message);
        Assert.Equal(before, Directory.GetFileSystemEntries(_dir.Path).Order().ToList());
    }

    private void ImportBytesFails(byte[] onnx, params string[] fragments)
    {
        var path = _dir.File("bad.onnx");
        File.WriteAllBytes(path, onnx);
        ImportFails<ModelFormatException>(() => OnnxImporter.Import(path, Options, Path.Combine(_dir.Path, "out")), ["bad.onnx", .. fragments]);
        File.Delete(path);
    }

    [Fact]
    public void BadInput_IsRefusedWithOneLineAndNothingWritten()
    {
        var bytes = File.ReadAllBytes(Onnx("bert_pooler"));
        ImportBytesFails(bytes[..(bytes.Length / 2)], "truncated or not ONNX");
        ImportBytesFails("this is not an onnx model\n"u8.ToArray(), "ONNX");
        ImportBytesFails([], "empty file");
        ImportBytesFails(File.ReadAllBytes(Onnx("mlp")), "not a BERT-family encoder", "embeddings.word_embeddings.weight");
        ImportBytesFails(File.ReadAllBytes(Onnx("roberta_positions")), "position ids", "CumSum");
        ImportBytesFails(File.ReadAllBytes(Onnx("silu")), "unknown activation in encoder.layer.0.intermediate", "Sigmoid");
        ImportBytesFails(File.ReadAllBytes(Onnx("prenorm")), "encoder.layer.0.attention.self.query does not read the embeddings' output", "not a BERT layer");
        ImportBytesFails(OnnxRewriter.RewriteInitializers(bytes, t => OnnxRewriter.Name(t) == "encoder.layer.1.output.LayerNorm.bias" ? null : t),
            "missing initializer 'encoder.layer.1.output.LayerNorm.bias'");
        ImportBytesFails(OnnxRewriter.RewriteInitializers(bytes, t => OnnxRewriter.Name(t) == "encoder.layer.1.attention.self.key.bias"
            ? [.. t.Where(f => f.Number != 8), OnnxRewriter.Text(8, "encoder.layer.1.attention.self.query.bias")] : t),
            "conflicting initializers", "encoder.layer.1.attention.self.query.bias");

        // The head count 4 of every Q/K/V reshape ([.., 4, 8] constants) made 2: 2 × 8 does not fill hidden size 32.
        ImportBytesFails(OnnxRewriter.RewriteNodeTensors(bytes, t => IsInt64Scalar(t, 4) ? SetInt64(t, 2) : t),
            "cannot read the attention heads of encoder.layer.0.attention.self.query", "[.., 2, 8]");

        var external = _dir.Sub("ext");
        var data = Path.Combine(external, "weights.bin");
        File.WriteAllBytes(Path.Combine(external, "model.onnx"), OnnxRewriter.ToExternalData(bytes, data, "weights.bin"));
        File.Delete(data);
        var before = Directory.GetFileSystemEntries(_dir.Path).Order().ToList();
        var ex = Assert.Throws<ModelFormatException>(() => OnnxImporter.Import(Path.Combine(external, "model.onnx"), Options, Path.Combine(_dir.Path, "out")));
        Assert.Contains("external data file", ex.Message);
        Assert.Contains("weights.bin", ex.Message);
        Assert.Equal(before, Directory.GetFileSystemEntries(_dir.Path).Order().ToList());
    }

    [Fact]
    public void EmptyTensorsWithoutDataReadAsEmpty()
    {
        // Found by the onnx fuzz target (corpus/onnx/regression-empty-int64-tensor.bin): a [0]-shaped int64 constant
        // without int64_data or raw_data made ToInt64s dereference the absent list.
        var ints = new OnnxTensor { Name = "c", Dims = [0], DataType = 7 };
        Assert.Empty(ints.ToInt64s("fuzz.onnx"));
        var floats = new OnnxTensor { Name = "f", Dims = [0], DataType = 1 };
        Assert.Empty(floats.ToFloats("fuzz.onnx"));
        var missing = new OnnxTensor { Name = "g", Dims = [2], DataType = 7 };
        Assert.Contains("has 0 values; expected 2", Assert.Throws<ModelFormatException>(() => missing.ToInt64s("fuzz.onnx")).Message);
    }

    private static bool IsInt64Scalar(List<OnnxRewriter.Field> t, long value) =>
        t.Any(f => f.Number == 2 && f.Value == 7) && t.FirstOrDefault(f => f.Number == 9) is { } raw && raw.Bytes.Length == 8
        && BitConverter.ToInt64(raw.Bytes) == value;

    private static List<OnnxRewriter.Field> SetInt64(List<OnnxRewriter.Field> t, long value) =>
        [.. t.Where(f => f.Number != 9), OnnxRewriter.Bytes(9, BitConverter.GetBytes(value))];

    [Fact]
    public void CorruptedBytes_ImportOrFailWithAUserError()
    {
        var bytes = File.ReadAllBytes(Onnx("bert_relu"));
        var random = new Random(11);
        var path = _dir.File("fuzz.onnx");
        for (int trial = 0; trial < 300; trial++)
        {
            var corrupt = trial < 100 ? bytes[..random.Next(bytes.Length)] : (byte[])bytes.Clone();
            if (trial >= 100)
                for (int k = 0; k < 1 + trial % 4; k++) corrupt[random.Next(corrupt.Length)] = (byte)random.Next(256);
            File.WriteAllBytes(path, corrupt);
            var output = Path.Combine(_dir.Path, "fuzz-out");
            try
            {
                OnnxImporter.Import(path, Options, output);
                Directory.Delete(output, recursive: true);
            }
            catch (SemblanceException e)
            {
                Assert.DoesNotContain('\n', e.Message);
                Assert.False(Directory.Exists(output), $"trial {trial}: {e.Message}");
            }
        }
    }

    [Fact]
    public void BadOutputOrVocabulary_IsRefused()
    {
        var busy = _dir.Sub("busy");
        File.WriteAllText(Path.Combine(busy, "keep.txt"), "mine");
        ImportFails(() => OnnxImporter.Import(Onnx("bert_pooler"), Options, busy), "not empty");
        Assert.Equal("mine", File.ReadAllText(Path.Combine(busy, "keep.txt")));

        var big = _dir.File("big-vocab.txt");
        File.WriteAllLines(big, Enumerable.Range(0, 50).Select(i => $"t{i}"));
        ImportFails(() => OnnxImporter.Import(Onnx("bert_pooler"), new OnnxImportOptions { VocabularyPath = big }, Path.Combine(_dir.Path, "out")),
            "50 tokens", "45 rows");
        File.Delete(big);
        ImportFails(() => OnnxImporter.Import(Onnx("bert_pooler"), new OnnxImportOptions(), Path.Combine(_dir.Path, "out")), "vocab");

        ImportFails(() => OnnxImporter.Import(Onnx("bert_pooler"), Options with { WriteExtraFiles = _ => throw new SemblanceException("extra files failed") },
            Path.Combine(_dir.Path, "out")), "extra files failed");

        var empty = _dir.Sub("empty");
        OnnxImporter.Import(Onnx("bert_relu"), Options with { WriteExtraFiles = dir => File.WriteAllText(Path.Combine(dir, "source.json"), "{}") }, empty);
        Assert.True(File.Exists(Path.Combine(empty, "model.safetensors")));
        Assert.Equal("{}", File.ReadAllText(Path.Combine(empty, "source.json")));
    }
}
