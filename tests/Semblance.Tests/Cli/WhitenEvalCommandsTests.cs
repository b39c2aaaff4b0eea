// CLI tests for whiten fit, eval sts, fit-default and similarity, including one-line errors for bad input.
using Semblance.IO;
using Semblance.Tests.Embeddings;

namespace Semblance.Tests.Cli;

public sealed class WhitenEvalCommandsTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("semblance-cli-whiten-");

    public void Dispose() => _dir.Delete(true);

    private string P(string name) => Path.Combine(_dir.FullName, name);

    private string Model()
    {
        var corpus = P("corpus.txt");
        File.WriteAllLines(corpus, DefaultEncoderTests.Corpus(400, 2));
        var (code, output, err) = CliAppTests.Run("fit-default", "--input", corpus, "--output", P("model"), "--dims", "32", "--seed", "1");
        Assert.True(code == 0, err);
        Assert.Contains("dims 32", output);
        return P("model");
    }

    private static void AssertOneLineError((int Code, string Out, string Err) r, string expected)
    {
        Assert.Equal(1, r.Code);
        Assert.Equal("error: " + expected + "\n", r.Err.Replace("\r\n", "\n"));
    }

    [Fact]
    public void EvalSts_PrintsTableAndLastLine_AndReport()
    {
        var model = Model();
        var data = P("sts.tsv");
        File.WriteAllLines(data, ["how can i reset my password\tforgot my login password\t4.5", "refund my card payment\ttrack my package\t0.5",
            "重置我的密码\t忘记密码怎么登录\t4", "track my package delivery\tcourier delivery address\t3", "my order\tthe email\t1"]);
        var (code, output, err) = CliAppTests.Run("eval", "sts", "--model", model, "--data", data, "--whitening", "fit", "--dims", "8,3", "--report", P("r.html"), "--baseline");
        Assert.True(code == 0, err);
        var lines = output.TrimEnd('\n').Split('\n');
        Assert.StartsWith("pooling", lines[0]);
        Assert.Equal(3, lines.Count(l => l.StartsWith("lsa") || l.StartsWith("tfidf")));
        Assert.Matches(@"^spearman=-?\d+\.\d\d$", lines[^1]);
        var html = File.ReadAllText(P("r.html"));
        Assert.Contains("<svg", html);
        Assert.Equal(5, System.Text.RegularExpressions.Regex.Matches(html, "<circle").Count);
    }

    [Fact]
    public void EvalSts_BadTsv_IsOneLineErrorWithLineNumber()
    {
        var model = Model();
        var data = P("bad.tsv");
        File.WriteAllText(data, "a\tb\t1\nc\td\n");
        AssertOneLineError(CliAppTests.Run("eval", "sts", "--model", model, "--data", data), $"{data}: line 2: 2 tab-separated columns, expected 3 (sentence1<TAB>sentence2<TAB>score)");
        File.WriteAllText(data, "a\tb\t1\nc\td\thigh\n");
        AssertOneLineError(CliAppTests.Run("eval", "sts", "--model", model, "--data", data), $"{data}: line 2: score 'high' is not a number; expected a numeric similarity in column 3");
        File.WriteAllText(data, "");
        AssertOneLineError(CliAppTests.Run("eval", "sts", "--model", model, "--data", data), $"{data}: no sentence pairs; expected lines of sentence1<TAB>sentence2<TAB>score");
    }

    [Fact]
    public void WhitenFit_FromVectors_AndDimensionMismatchWithModel()
    {
        var model = Model();
        var rng = new Random(1);
        var x = new float[50 * 5];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        Npy.WriteFloat32(P("x.npy"), x, 50, 5);
        var (code, output, err) = CliAppTests.Run("whiten", "fit", "--vectors", P("x.npy"), "--dims", "3", "--output", P("w.safetensors"));
        Assert.True(code == 0, err);
        Assert.StartsWith("whitening: n=50 d=5 k=3 explained_variance=0.", output);

        AssertOneLineError(CliAppTests.Run("similarity", "--model", model, "--whitening", P("w.safetensors"), "a", "b"),
            $"{P("w.safetensors")}: the whitening expects 5-dimensional vectors but the encoder produces 32");
        var data = P("ok.tsv");
        File.WriteAllLines(data, ["my order\tthe email\t1", "reset password\tforgot password\t4"]);
        AssertOneLineError(CliAppTests.Run("eval", "sts", "--model", model, "--data", data, "--whitening", P("w.safetensors")),
            $"{P("w.safetensors")}: the whitening expects 5-dimensional vectors but the encoder produces 32");
    }

    [Fact]
    public void WhitenFit_NaNVectors_IsOneLineError()
    {
        var x = new float[20];
        for (int i = 0; i < x.Length; i++) x[i] = i % 7;
        x[9] = float.NaN;
        Npy.WriteFloat32(P("nan.npy"), x, 10, 2);
        AssertOneLineError(CliAppTests.Run("whiten", "fit", "--vectors", P("nan.npy"), "--output", P("w.safetensors")),
            $"{P("nan.npy")}: row 5: value NaN at column 2; whitening needs finite vectors");
        Assert.False(File.Exists(P("w.safetensors")));
    }

    [Fact]
    public void WhitenFit_FromModel_ThenSimilarity()
    {
        var model = Model();
        var (code, output, err) = CliAppTests.Run("whiten", "fit", "--model", model, "--input", P("corpus.txt"), "--dims", "16", "--output", P("w.safetensors"));
        Assert.True(code == 0, err);
        Assert.StartsWith("whitening: n=400 d=32 k=16", output);
        var same = CliAppTests.Run("similarity", "--model", model, "--whitening", P("w.safetensors"), "reset my password", "reset my password");
        Assert.Equal("1.000000\n", same.Out);
        var r = CliAppTests.Run("similarity", "--model", model, "reset my password", "track my package");
        Assert.Equal(0, r.Code);
        Assert.InRange(double.Parse(r.Out, System.Globalization.CultureInfo.InvariantCulture), -1, 0.999);
    }

    [Fact]
    public void UsageErrors_ExitTwo()
    {
        Assert.Equal(2, CliAppTests.Run("whiten", "fit", "--output", P("w")).Code);
        Assert.Equal(2, CliAppTests.Run("similarity", "--model", "m", "only one").Code);
        Assert.Equal(2, CliAppTests.Run("eval", "sts", "--model", "m", "--data", "d", "--dims", "8").Code);
    }
}
