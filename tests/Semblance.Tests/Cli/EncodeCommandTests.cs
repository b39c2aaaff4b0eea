// `semblance encode` / `tokenize` / `info` end to end on the fixture models, against Hugging Face's reference outputs.
using System.Text;
using System.Text.Json;
using Semblance.IO;
using Semblance.Models;
using Semblance.Tests.Models;

namespace Semblance.Tests.Cli;

public class EncodeCommandTests
{
    public static TheoryData<string> ModelNames => new() { "bert-tiny-uncased", "bert-tiny-chinese", "roformer-tiny-chinese" };

    private static string CasesInput(string model) =>
        string.Concat(FixtureCase.Read(SharedData.FixtureModel(model)).Select(c => c.Text.Replace("\n", " ").Replace("\r", " ") + "\n"));

    private static float[] Expected(string model, string key, int cases)
    {
        using var file = SafeTensorsFile.Open(Path.Combine(SharedData.FixtureModel(model), "expected.safetensors"));
        return Enumerable.Range(0, cases).SelectMany(i => file.ReadFloat($"{i}.{key}").Span.ToArray()).ToArray();
    }

    private static float[] EncodeNpy(string model, string input, params string[] extra)
    {
        using var dir = new TempDir();
        var output = dir.File("v.npy");
        var (code, _, err) = CliAppTests.RunWithInput(input, ["encode", "--model", SharedData.FixtureModel(model), "--format", "npy", "--output", output, .. extra]);
        Assert.True(code == 0, err);
        return Npy.ReadFloat32(output).Data;
    }

    [SharedTheory]
    [MemberData(nameof(ModelNames))]
    public void EncodeMatchesReferenceForEveryPooling(string model)
    {
        var cases = FixtureCase.Read(SharedData.FixtureModel(model));
        // Cases whose text holds a line break cannot be one input line; they are covered by the model tests.
        if (cases.Any(c => c.Text.Contains('\n') || c.Text.Contains('\r'))) return;
        var input = CasesInput(model);
        var modes = new List<(string Cli, string Key)> { ("cls", "pool.cls"), ("mean", "pool.mean"), ("first-last-avg", "pool.first_last_avg"), ("last-avg", "pool.last_avg") };
        if (!model.StartsWith("roformer")) modes.Add(("pooler", "pooler_output"));
        foreach (var (cli, key) in modes)
        {
            var actual = EncodeNpy(model, input, "--pooling", cli);
            var expected = Expected(model, key, cases.Count);
            Assert.True(Compare.MaxAbs(actual, expected) < 1e-4, $"{model} {cli}: max abs {Compare.MaxAbs(actual, expected)}");
        }
    }

    [SharedTheory]
    [MemberData(nameof(ModelNames))]
    public void VectorsDoNotDependOnBatchOrThreads(string model)
    {
        var input = CasesInput(model);
        var a = EncodeNpy(model, input, "--batch-size", "1", "--threads", "1");
        var b = EncodeNpy(model, input, "--batch-size", "32", "--threads", "2");
        var c = EncodeNpy(model, input, "--batch-size", "3", "--threads", "2");
        Assert.True(Compare.MaxAbs(a, b) <= 1e-5, $"batch 1 vs 32: {Compare.MaxAbs(a, b)}");
        Assert.True(Compare.MaxAbs(a, c) <= 1e-5, $"batch 1 vs 3: {Compare.MaxAbs(a, c)}");
    }

    [SharedFact]
    public void JsonlOutputKeepsOrderAndEmptyLines()
    {
        const string model = "bert-tiny-uncased";
        var input = "first line\n\nthird line\n";
        var (code, output, err) = CliAppTests.RunWithInput(input, "encode", "--model", SharedData.FixtureModel(model), "--normalize");
        Assert.True(code == 0, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        var npy = EncodeNpy(model, input, "--normalize");
        for (int i = 0; i < 3; i++)
        {
            var v = JsonDocument.Parse(lines[i]).RootElement.GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            Assert.Equal(32, v.Length);
            Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 5);
            Assert.Equal(npy.AsSpan(i * 32, 32).ToArray(), v);
        }
    }

    [SharedTheory]
    [MemberData(nameof(ModelNames))]
    public void TokenizeMatchesReferenceIds(string model)
    {
        var cases = FixtureCase.Read(SharedData.FixtureModel(model)).Where(c => !c.Text.Contains('\n') && !c.Text.Contains('\r')).ToList();
        var input = string.Concat(cases.Select(c => c.Text + "\n"));
        var (code, output, err) = CliAppTests.RunWithInput(input, "tokenize", "--model", SharedData.FixtureModel(model));
        Assert.True(code == 0, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(cases.Count, lines.Length);
        for (int i = 0; i < cases.Count; i++)
        {
            var ids = JsonDocument.Parse(lines[i]).RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(cases[i].InputIds, ids);
        }
    }

    [SharedFact]
    public void TokenizeMaxLengthZeroMeansNoTruncation()
    {
        var longLine = string.Join(' ', Enumerable.Repeat("word", 100)) + "\n";
        var model = SharedData.FixtureModel("bert-tiny-uncased");
        var truncated = JsonDocument.Parse(CliAppTests.RunWithInput(longLine, "tokenize", "--model", model).Out).RootElement.GetProperty("ids").GetArrayLength();
        var full = JsonDocument.Parse(CliAppTests.RunWithInput(longLine, "tokenize", "--model", model, "--max-length", "0").Out).RootElement.GetProperty("ids").GetArrayLength();
        Assert.Equal(64, truncated);
        Assert.Equal(102, full);
    }

    [SharedFact]
    public void OverLongLinesAreTruncatedNotRejected()
    {
        var longLine = string.Join(' ', Enumerable.Repeat("word", 500)) + "\n";
        var v = EncodeNpy("bert-tiny-uncased", longLine);
        Assert.Equal(32, v.Length);
    }

    [SharedFact]
    public void SentenceTransformersLayoutSelectsPoolingAndNormalisation()
    {
        using var dir = new TempDir();
        var src = SharedData.FixtureModel("bert-tiny-uncased");
        foreach (var f in Directory.GetFiles(src)) File.Copy(f, Path.Combine(dir.Path, Path.GetFileName(f)));
        File.WriteAllText(dir.File("modules.json"), """
            [{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
             {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
             {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]
            """);
        Directory.CreateDirectory(dir.File("1_Pooling"));
        Directory.CreateDirectory(dir.File("2_Normalize"));
        File.WriteAllText(dir.File("1_Pooling/config.json"), """{"word_embedding_dimension":32,"pooling_mode_cls_token":true,"pooling_mode_mean_tokens":false,"pooling_mode_max_tokens":false,"pooling_mode_mean_sqrt_len_tokens":false}""");
        var (code, info, err) = CliAppTests.Run("info", "--model", dir.Path);
        Assert.True(code == 0, err);
        Assert.Contains("pooling:", info);
        Assert.Contains("cls", info);
        Assert.Contains("normalize:               yes", info);

        var cases = FixtureCase.Read(src);
        var input = cases[0].Text + "\n";
        using var outDir = new TempDir();
        var (code2, _, err2) = CliAppTests.RunWithInput(input, "encode", "--model", dir.Path, "--format", "npy", "--output", outDir.File("v.npy"));
        Assert.True(code2 == 0, err2);
        var v = Npy.ReadFloat32(outDir.File("v.npy")).Data;
        var cls = Expected("bert-tiny-uncased", "pool.cls", 1);
        var norm = (float)Math.Sqrt(cls.Sum(x => (double)x * x));
        Assert.True(Compare.MaxAbs(v, cls.Select(x => x / norm).ToArray()) < 1e-5);
    }

    [SharedFact]
    public void InvalidUtf8InputIsOneLineErrorWithLineNumber()
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var bytes = Encoding.UTF8.GetBytes("fine\n").Concat(new byte[] { 0xFF, 0xFE, (byte)'\n' }).ToArray();
        int code = Semblance.Cli.CliApp.Run(["encode", "--model", SharedData.FixtureModel("bert-tiny-uncased")], TextReader.Null, o, e, new MemoryStream(bytes), false);
        Assert.Equal(1, code);
        Assert.Equal("error: <stdin>: line 2: invalid UTF-8 (byte offset 0 in the line)", e.ToString().Trim());
    }

    [SharedFact]
    public void InfoReportsArchitectureAndParameters()
    {
        var (code, output, err) = CliAppTests.Run("info", "--model", SharedData.FixtureModel("roformer-tiny-chinese"));
        Assert.True(code == 0, err);
        Assert.Contains("model_type:", output);
        Assert.Contains("roformer", output);
        Assert.Contains("693,824", output);
    }

    [SharedFact]
    public void BenchEncodePrintsTheContractLineLast()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("s.txt"), "a short sentence\nanother one here\n中文句子\n");
        var (code, output, err) = CliAppTests.Run("bench", "encode", "--model", SharedData.FixtureModel("bert-tiny-uncased"), "--input", dir.File("s.txt"), "--seconds", "0.2", "--threads", "1");
        Assert.True(code == 0, err);
        var last = output.TrimEnd('\n').Split('\n')[^1];
        Assert.Matches(@"^sentences_per_s=[0-9]+\.[0-9]+ tokens_per_s=[0-9]+\.[0-9]+$", last);
    }
}

public class EncodeWhiteningTests
{
    [SharedFact]
    public void EncodeAppliesWhiteningBeforeNormalisation()
    {
        using var dir = new TempDir();
        var model = SharedData.FixtureModel("bert-tiny-uncased");
        var lines = FixtureCase.Read(model).Select(c => c.Text.Replace("\n", " ").Replace("\r", " ")).ToList();
        var input = string.Concat(lines.Select(l => l + "\n"));
        File.WriteAllText(dir.File("corpus.txt"), input);
        var (code, _, err) = CliAppTests.Run("whiten", "fit", "--model", model, "--input", dir.File("corpus.txt"), "--dims", "8", "--output", dir.File("w.safetensors"));
        Assert.True(code == 0, err);
        (code, _, err) = CliAppTests.RunWithInput(input, "encode", "--model", model, "--whitening", dir.File("w.safetensors"), "--format", "npy", "--output", dir.File("v.npy"));
        Assert.True(code == 0, err);
        var m = Npy.ReadFloat32(dir.File("v.npy"));
        Assert.Equal((lines.Count, 8), (m.Rows, m.Columns));
        // Whitened training vectors have zero mean per dimension.
        for (int j = 0; j < 8; j++)
            Assert.True(Math.Abs(Enumerable.Range(0, m.Rows).Average(i => m.Data[i * 8 + j])) < 1e-3);
    }

    [SharedFact]
    public void WhiteningOfAnotherDimensionIsAClearError()
    {
        using var dir = new TempDir();
        var small = SharedData.FixtureModel("bert-tiny-uncased");
        File.WriteAllText(dir.File("corpus.txt"), string.Concat(FixtureCase.Read(small).Select(c => c.Text.Replace("\n", " ").Replace("\r", " ") + "\n")));
        var (code, _, err) = CliAppTests.Run("whiten", "fit", "--model", small, "--input", dir.File("corpus.txt"), "--dims", "4", "--output", dir.File("w.safetensors"));
        Assert.True(code == 0, err);
        (code, _, err) = CliAppTests.RunWithInput("hello\n", "encode", "--model", SharedData.FixtureModel("bert-tiny-chinese"), "--whitening", dir.File("w.safetensors"));
        Assert.Equal(1, code);
        Assert.Contains("w.safetensors: the whitening expects 32-dimensional vectors but the encoder produces 48", err);
    }
}
