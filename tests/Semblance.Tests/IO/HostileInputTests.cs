// Regression tests for issue 13: each damaged input that used to crash (or was silently accepted) now fails with a
// one-line SemblanceException that names the file and never echoes more than a short excerpt of the input.
using System.Text;
using Semblance.Embeddings;
using Semblance.Fuzz;
using Semblance.IO;
using Semblance.Models;
using Semblance.Tests.Cli;
using Semblance.Tests.Models;
using Semblance.Text;

namespace Semblance.Tests.IO;

public class HostileInputTests
{
    private static void AssertOneLine(Exception e, int maxLength = SemblanceException.MaxMessageLength + 40)
    {
        Assert.IsAssignableFrom<SemblanceException>(e);
        Assert.DoesNotContain('\n', e.Message);
        Assert.True(e.Message.Length <= maxLength, $"message of {e.Message.Length} characters");
    }

    /// <summary>A safetensors file: u64 header length, the header bytes as given, then <paramref name="data"/>.</summary>
    private static byte[] SafeTensors(byte[] header, int data)
    {
        var bytes = new byte[8 + header.Length + data];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    [Theory]
    [InlineData(new byte[] { 0xC3, 0x28 })]             // truncated sequence
    [InlineData(new byte[] { 0xC0, 0xAF })]             // overlong
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]       // CESU-8 surrogate
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })] // above U+10FFFF
    public void SafeTensorsHeaderWithInvalidUtf8IsAClearError(byte[] bad)
    {
        using var dir = new TempDir();
        byte[] header = [.. "{\"w"u8, .. bad, .. "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"u8];
        File.WriteAllBytes(dir.File("m.safetensors"), SafeTensors(header, 4));
        var e = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(dir.File("m.safetensors")).Dispose());
        Assert.Contains("invalid UTF-8", e.Message);
        AssertOneLine(e);
    }

    [Fact]
    public void SafeTensorsHeaderWithLoneSurrogateEscapeIsAClearError()
    {
        using var dir = new TempDir();
        var header = "{\"__metadata__\":{\"k\":\"\\ud800\"},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"u8.ToArray();
        File.WriteAllBytes(dir.File("m.safetensors"), SafeTensors(header, 4));
        var e = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(dir.File("m.safetensors")).Dispose());
        Assert.Contains("lone UTF-16 surrogate", e.Message);
    }

    [Fact]
    public void SafeTensorsOverlappingDataOffsetsAreRejected()
    {
        using var dir = new TempDir();
        var header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}"u8.ToArray();
        File.WriteAllBytes(dir.File("m.safetensors"), SafeTensors(header, 12));
        var e = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(dir.File("m.safetensors")).Dispose());
        Assert.Contains("overlap", e.Message);
    }

    [Theory]
    [InlineData("{\"model_type\":\"bert\",\"hidden_act\":\"\\udc00\"}", "lone UTF-16 surrogate")]
    [InlineData("{\"model_type\":\"bert\",\"model_type\":\"roformer\"}", "appears twice")]
    public void ConfigJsonWithLoneSurrogateOrDuplicateKeyIsAClearError(string json, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), json);
        var e = Assert.Throws<ModelFormatException>(() => TransformerConfig.Load(dir.File("config.json")));
        Assert.Contains(expected, e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void ConfigJsonWithInvalidUtf8IsAClearError()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("config.json"), [.. "{\"model_type\":\"be"u8, 0xFF, .. "rt\"}"u8]);
        var e = Assert.Throws<ModelFormatException>(() => TransformerConfig.Load(dir.File("config.json")));
        Assert.Contains("invalid UTF-8 at byte 17", e.Message);
    }

    [Fact]
    public void HugeNumHiddenLayersFailsBeforeAllocatingPerLayerStructures()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), Templates.BertConfig(layers: int.MaxValue));
        File.WriteAllBytes(dir.File("model.safetensors"), Templates.BertWeights.Value);
        var e = Assert.Throws<ModelFormatException>(() => TransformerLoader.Load(dir.Path).Dispose());
        Assert.Contains("num_hidden_layers 2147483647", e.Message);
        // From scratch there are no weights to check against: the parameter count is checked against memory instead.
        var init = Assert.Throws<SemblanceException>(() => Semblance.Training.TrainableTransformer.Initialize(TransformerConfig.Parse(Templates.BertConfig(layers: int.MaxValue), "c"), 1));
        Assert.Contains("more than the", init.Message);
    }

    [Fact]
    public void TokenizerJsonWithInvalidUtf8IsAClearErrorThatDoesNotEchoTheFile()
    {
        using var dir = new TempDir();
        // One damaged quote turns the rest of the file into a key; the error must not print it.
        var json = Templates.TokenizerJson().Replace("\"vocab\":{", "\"vocab\":{\"" + new string('x', 50_000) + "\":0,");
        File.WriteAllBytes(dir.File("tokenizer.json"), [.. Encoding.UTF8.GetBytes(json[..100]), 0xC3, .. Encoding.UTF8.GetBytes(json[100..])]);
        var e = Assert.Throws<ModelFormatException>(() => BertTokenizer.Load(dir.Path));
        Assert.Contains("invalid UTF-8", e.Message);
        AssertOneLine(e);

        File.WriteAllText(dir.File("tokenizer.json"), json.Replace("\"type\":\"WordPiece\",\"unk_token\"", "\"type\":\"" + new string('y', 50_000) + "\\n\",\"unk_token\""));
        var echo = Assert.Throws<ModelFormatException>(() => BertTokenizer.Load(dir.Path));
        AssertOneLine(echo);
    }

    [Fact]
    public void TokenizerJsonWithAWrongTypedTemplatePartIsAClearError()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), Templates.TokenizerJson().Replace("{\"SpecialToken\":{\"id\":\"[CLS]\",\"type_id\":0}}", "{\"SpecialToken\":false}"));
        AssertOneLine(Assert.Throws<ModelFormatException>(() => BertTokenizer.Load(dir.Path)));
    }

    [Fact]
    public void JsonlInputWithALoneSurrogateEscapeIsAClearErrorNamingTheLine()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("items.jsonl"), "{\"text\":\"fine\"}\n{\"text\":\"bad \\ud800 here\"}\n");
        var (code, _, err) = CliAppTests.Run("index", "build", "--output", dir.File("idx"), "--input", dir.File("items.jsonl"), "--model", dir.File("m"));
        Assert.Equal(1, code);
        Assert.Contains("items.jsonl: line 2: a string holds an invalid escape", err);
        Assert.False(Directory.Exists(dir.File("idx")));
    }

    [Fact]
    public void NpyShapeLargerThanTheFileFailsBeforeAllocating()
    {
        using var dir = new TempDir();
        var path = dir.File("x.npy");
        // 128 bytes whose header claims 400M x 1 float32 (1.6 GB).
        File.WriteAllBytes(path, Templates.Npy("<f4", "(400000000, 1)", new byte[128 - 64]));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InputFormatException>(() => Npy.ReadFloat32(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "allocated before checking the size");
        Assert.Contains("truncated .npy data", e.Message);
        File.WriteAllBytes(path, Templates.Npy("<i8", "(9223372036854775807, 2)", []));
        Assert.Contains("too large", Assert.Throws<InputFormatException>(() => Npy.ReadInt64(path)).Message);
        File.WriteAllBytes(path, Templates.Npy("<f4", "(2, 2)", new byte[20]));
        Assert.Contains("trailing bytes", Assert.Throws<InputFormatException>(() => Npy.ReadFloat32(path)).Message);
    }

    [Fact]
    public void NpyQueryVectorsWithAHugeShapeAreAClearSearchError()
    {
        using var dir = new TempDir();
        var xb = dir.File("xb.npy");
        Npy.WriteFloat32(xb, new float[] { 1, 0, 0, 1 }, 2, 2);
        Assert.Equal(0, CliAppTests.Run("index", "build", "--output", dir.File("idx"), "--vectors", xb).Code);
        File.WriteAllBytes(dir.File("q.npy"), Templates.Npy("<f4", "(400000000, 2)", new byte[64]));
        var (code, _, err) = CliAppTests.Run("search", "--index", dir.File("idx"), "--query-vectors", dir.File("q.npy"));
        Assert.Equal(1, code);
        Assert.Contains("truncated .npy data", err);
    }

    [Fact]
    public void NpyHeaderIsNotEchoedVerbatim()
    {
        using var dir = new TempDir();
        var header = "{'descr': '<f4',\n" + string.Concat(Enumerable.Repeat("'junk': 1,\n", 300)) + "}";
        var bytes = new byte[10 + header.Length];
        bytes[0] = 0x93;
        "NUMPY"u8.CopyTo(bytes.AsSpan(1));
        bytes[6] = 1;
        BitConverter.TryWriteBytes(bytes.AsSpan(8, 2), (ushort)header.Length);
        Encoding.ASCII.GetBytes(header).CopyTo(bytes, 10);
        File.WriteAllBytes(dir.File("x.npy"), bytes);
        var e = Assert.Throws<InputFormatException>(() => Npy.ReadFloat32(dir.File("x.npy")));
        Assert.Contains("malformed .npy header", e.Message);
        AssertOneLine(e, 300);
    }

    [Fact]
    public void MessagesAreBoundedAndOneLine()
    {
        var e = new InputFormatException("f: " + new string('z', 100_000) + "\nsecond line\u0000");
        AssertOneLine(e);
        Assert.EndsWith("more characters)", e.Message);
        Assert.Equal("\"a\\nb\"…", SemblanceException.Excerpt("a\nbcdef", 3));
    }

    private static string BertWithVocab(TempDir dir, Action<Checkpoint>? damage = null)
    {
        var model = Synthetic.Bert(5, vocab: Templates.VocabTokens.Length);
        damage?.Invoke(model);
        var path = model.Save(dir.Sub("model"));
        File.WriteAllText(Path.Combine(path, "vocab.txt"), Templates.VocabTxt);
        return path;
    }

    [Fact]
    public void NonFiniteWeightsAreRefusedUnlessAllowedAndNeverBecomeSilentNaN()
    {
        using var dir = new TempDir();
        var model = BertWithVocab(dir, m => m["encoder.layer.1.output.dense.bias"].Values[3] = float.NaN);
        var e = Assert.Throws<ModelFormatException>(() => SentenceEncoder.Load(model).Dispose());
        Assert.Contains("tensor 'encoder.layer.1.output.dense.bias' holds NaN at element 3", e.Message);
        Assert.Contains("--allow-nonfinite", e.Message);

        using var encoder = SentenceEncoder.Load(model, new EncoderOptions { AllowNonFinite = true, Threads = 1 });
        var encodeError = Assert.Throws<SemblanceException>(() => encoder.Encode(["hello world", "the dog"]));
        Assert.StartsWith("input item 1: the embedding has NaN", encodeError.Message);

        // The CLI: refused at load with a one-line error; with the flag, the NaN names the input line instead of being written.
        File.WriteAllLines(dir.File("in.txt"), ["hello", "world"]);
        var (code, _, err) = CliAppTests.Run("encode", "--model", model, "--input", dir.File("in.txt"), "--format", "npy", "--output", dir.File("out.npy"));
        Assert.Equal(1, code);
        Assert.Contains("holds NaN", err);
        (code, _, err) = CliAppTests.Run("encode", "--model", model, "--input", dir.File("in.txt"), "--format", "npy", "--output", dir.File("out.npy"), "--allow-nonfinite");
        Assert.Equal(1, code);
        Assert.Contains("input item 1: the embedding has NaN", err);
        Assert.False(File.Exists(dir.File("out.npy")));
    }

    [Fact]
    public void WhiteningFileWithInfIsRefusedUnlessAllowed()
    {
        using var dir = new TempDir();
        var w = new Whitening(new float[] { 0, 0 }, new float[] { 1, 0, 0, float.PositiveInfinity }, 2, 10, 1);
        w.Save(dir.File("w.safetensors"));
        var e = Assert.Throws<ModelFormatException>(() => Whitening.Load(dir.File("w.safetensors")));
        Assert.Contains("tensor 'kernel' holds Infinity at element 3", e.Message);
        Assert.Equal(2, Whitening.Load(dir.File("w.safetensors"), allowNonFinite: true).OutputDimension);
    }
}
