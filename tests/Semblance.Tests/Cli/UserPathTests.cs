// The CLI rough edges a new user hit (issue 14 item 4): eval sts's last lines, --dims beyond the model, whitening
// under another pooling, serve --urls without a scheme, sup-simcse on an STS file, train on a default encoder, help
// texts, and `info`.
using Semblance.Cli.Commands;
using Semblance.Tests.Embeddings;
using Semblance.Training;

namespace Semblance.Tests.Cli;

public sealed class UserPathTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("semblance-cli-user-");

    public void Dispose() => _dir.Delete(true);

    private string P(string name) => Path.Combine(_dir.FullName, name);

    private string DefaultModel()
    {
        File.WriteAllLines(P("corpus.txt"), DefaultEncoderTests.Corpus(400, 3));
        var (code, _, err) = CliAppTests.Run("fit-default", "--input", P("corpus.txt"), "--output", P("model"), "--dims", "32", "--seed", "1");
        Assert.True(code == 0, err);
        return P("model");
    }

    private string StsFile()
    {
        File.WriteAllLines(P("sts.tsv"), ["how can i reset my password\tforgot my login password\t4.5", "refund my card payment\ttrack my package\t0.5",
            "重置我的密码\t忘记密码怎么登录\t4", "track my package delivery\tcourier delivery address\t3", "my order\tthe email\t1",
            "password reset email\treset password by email\t4.8"]);
        return P("sts.tsv");
    }

    [Fact]
    public void EvalSts_EndsWithTheBestConfigurationAndItsSpearman_AndSkipsDimsBeyondTheModel()
    {
        var model = DefaultModel();
        var (code, output, err) = CliAppTests.Run("eval", "sts", "--model", model, "--data", StsFile(), "--whitening", "fit", "--dims", "0,256,3", "--baseline");
        Assert.True(code == 0, err);
        Assert.Contains("note: dims 256: skipped", err);
        var lines = output.TrimEnd('\n').Split('\n');
        var rows = lines.Skip(1).TakeWhile(l => !l.StartsWith("best:")).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.Equal(3, rows.Count); // dims 0 and 3, and the tf-idf baseline; 256 left out
        var best = rows.MaxBy(r => double.Parse(r[3], System.Globalization.CultureInfo.InvariantCulture))!;
        Assert.Equal($"best: pooling={best[0]} whitening={best[1]} dims={best[2]}", lines[^2]);
        Assert.Equal($"spearman={best[3]}", lines[^1]);

        var (allCode, _, allErr) = CliAppTests.Run("eval", "sts", "--model", model, "--data", StsFile(), "--whitening", "fit", "--dims", "256");
        Assert.Equal(2, allCode);
        Assert.Contains("no configuration left", allErr);
    }

    [SharedFact]
    public void AWhiteningFittedUnderOnePoolingIsRefusedUnderAnother()
    {
        var model = SharedData.FixtureModel("bert-tiny-uncased");
        File.WriteAllLines(P("corpus.txt"), DefaultEncoderTests.Corpus(80, 4));
        var w = P("cls.safetensors");
        var (code, _, err) = CliAppTests.Run("whiten", "fit", "--model", model, "--input", P("corpus.txt"), "--pooling", "cls", "--output", w);
        Assert.True(code == 0, err);
        var expected = $"error: {w}: the whitening was fitted on cls-pooled vectors but these are mean-pooled; refit it with --pooling mean or encode with --pooling cls\n";
        var (c1, _, e1) = CliAppTests.Run("similarity", "--model", model, "--pooling", "mean", "--whitening", w, "a", "b");
        Assert.Equal(1, c1);
        Assert.Equal(expected, e1);
        var (c2, _, e2) = CliAppTests.Run("eval", "sts", "--model", model, "--pooling", "mean", "--data", StsFile(), "--whitening", w);
        Assert.Equal(1, c2);
        Assert.Equal(expected, e2);
        var (c3, _, e3) = CliAppTests.Run("similarity", "--model", model, "--pooling", "cls", "--whitening", w, "a", "b");
        Assert.True(c3 == 0, e3);
    }

    [Fact]
    public void TextsTheDefaultEncoderNeverSawAreIndexedSearchedAndCompared()
    {
        var model = DefaultModel();
        // Lines with no word of the fitted vocabulary (the issue's "vector 115: vector is all zeros").
        File.WriteAllLines(P("items.txt"), ["reset my password please", "zzzz qqqq", "", "§§§ ¶¶¶", "ƀƁƂ ƃƄ"]);
        var (code, _, err) = CliAppTests.Run("index", "build", "--model", model, "--input", P("items.txt"), "--output", P("idx"));
        Assert.True(code == 0, err);
        var (searchCode, hits, searchErr) = CliAppTests.Run("search", "--index", P("idx"), "--query", "zzzz qqqq", "-k", "2");
        Assert.True(searchCode == 0, searchErr);
        Assert.Contains("\"text\":\"zzzz qqqq\"", hits);
        var (simCode, sim, simErr) = CliAppTests.Run("similarity", "--model", model, "zzzz qqqq", "zzzz qqqq");
        Assert.True(simCode == 0, simErr);
        Assert.Equal("1.000000", sim.Trim());
        var (encCode, encoded, encErr) = CliAppTests.RunWithInput("\n§§§\n", "encode", "--model", model);
        Assert.True(encCode == 0, encErr);
        Assert.All(encoded.TrimEnd('\n').Split('\n'), line => Assert.Matches("[1-9]", line));
    }

    [Theory]
    [InlineData("127.0.0.1:8080", "http://127.0.0.1:8080")]
    [InlineData("http://127.0.0.1:0", "http://127.0.0.1:0")]
    [InlineData("https://localhost:5001", "https://localhost:5001")]
    public void ServeUrlsWithoutASchemeMeanHttp(string given, string expected) => Assert.Equal(expected, ServeCommand.WithScheme(given));

    [Fact]
    public void ServeUrlsWithAnotherSchemeAreAUsageError()
    {
        var model = DefaultModel();
        var (code, _, err) = CliAppTests.Run("serve", "--model", model, "--urls", "ftp://127.0.0.1:21");
        Assert.Equal(2, code);
        Assert.Contains("--urls: 'ftp://127.0.0.1:21' has scheme 'ftp'", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void SupSimCseRefusesAnStsFileInsteadOfTakingTheScoreAsAHardNegative()
    {
        var e = Assert.Throws<InputFormatException>(() => TrainingData.Parse(["a cat sat\ta cat was sitting\t4.2"], "sts.tsv", TrainingLosses.SupervisedSimCse));
        Assert.Equal("sts.tsv:1: column 3 is the number '4.2', not a hard-negative sentence; this looks like an STS file (sentence1<TAB>sentence2<TAB>score): use --loss cosent for scored pairs, or give sup-simcse anchor<TAB>positive[<TAB>hard negative]", e.Message);
        Assert.Equal(3, TrainingData.Parse(["a cat sat\ta cat was sitting\ta dog ran"], "ok.tsv", TrainingLosses.SupervisedSimCse).Rows[0].Texts.Length);
    }

    [Fact]
    public void TrainOnADefaultEncoderNamesWhatTrainTakes()
    {
        var model = DefaultModel();
        File.WriteAllLines(P("train.txt"), DefaultEncoderTests.Corpus(20, 1));
        var (code, _, err) = CliAppTests.Run("train", "--model", model, "--data", P("train.txt"), "--loss", "simcse", "--output", P("out"));
        Assert.Equal(1, code);
        Assert.Equal($"error: {Path.Combine(model, "config.json")}: model_type 'semblance-lsa' (the default encoder) is fitted, not trained: use `semblance fit-default`; train takes bert, ernie, roformer, semblance-gru\n", err);
        Assert.Equal(["bert", "ernie", "roformer", "semblance-gru"], TrainableModels.TrainableModelTypes);
    }

    [Fact]
    public void HelpTextsSpeakOfTheirOwnCommand_AndInfoPrintsEachFieldOnce()
    {
        var (_, build, _) = CliAppTests.Run("index", "build", "--help");
        Assert.DoesNotContain("index add", build);
        Assert.DoesNotContain("index was built", build);
        var (_, add, _) = CliAppTests.Run("index", "add", "--help");
        Assert.Contains("default: the one the index was built with", add);

        var model = DefaultModel();
        var (code, info, err) = CliAppTests.Run("info", "--model", model);
        Assert.True(code == 0, err);
        var keys = info.TrimEnd('\n').Split('\n').Select(l => l[..l.IndexOf(':')]).ToList();
        Assert.Equal(keys.Count, keys.Distinct().Count());
        Assert.Contains("dimension", keys);
        Assert.Contains("similarity", keys);
    }
}
