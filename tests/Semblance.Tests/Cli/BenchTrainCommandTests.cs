// `semblance bench train`: argument errors, and full timed steps on the tiny fixture model and a fresh --init model.
using System.Globalization;
using System.Text.RegularExpressions;
using Semblance.Tests.Models;

namespace Semblance.Tests.Cli;

public class BenchTrainCommandTests
{
    private static (int Code, string Out, string Err) Bench(params string[] args) => CliAppTests.Run(["bench", "train", .. args]);

    private static string Sentences(TempDir dir, int count)
    {
        var path = dir.File("sentences.txt");
        File.WriteAllLines(path, File.ReadLines(SharedData.Path("data", "sts-b-en", "train.tsv")).Take(count).Select(l => l.Split('\t')[0]));
        return path;
    }

    [Theory]
    [InlineData("missing --model DIR (or --init CONFIG.json --vocab FILE)", "--data", "x.txt")]
    [InlineData("give either --model DIR or --init CONFIG.json --vocab FILE, not both", "--model", "m", "--init", "c.json", "--vocab", "v.txt", "--data", "x.txt")]
    [InlineData("--init needs --vocab FILE", "--init", "c.json", "--data", "x.txt")]
    [InlineData("missing required option --data", "--model", "m")]
    [InlineData("--loss: 'triplet' is not one of simcse|sup-simcse|cosent|am-softmax|flatnce|simbert|am-softmax-proxy", "--model", "m", "--data", "x.txt", "--loss", "triplet")]
    [InlineData("--steps: 0 is out of range", "--model", "m", "--data", "x.txt", "--steps", "0")]
    [InlineData("--batch-size: 1 is out of range", "--model", "m", "--data", "x.txt", "--batch-size", "1")]
    public void ArgumentMistakesAreUsageErrors(string message, params string[] args)
    {
        var (code, _, err) = Bench(args);
        Assert.Equal(2, code);
        Assert.Contains(message, err);
    }

    [SharedFact]
    public void RunsFullStepsOnTheFixtureModelAndEndsWithThroughput()
    {
        using var dir = new TempDir();
        var data = Sentences(dir, 40);
        var (code, stdout, err) = Bench("--model", SharedData.FixtureModel("bert-tiny-uncased"), "--data", data,
            "--batch-size", "8", "--steps", "3", "--warmup-steps", "1", "--threads", "2", "--profile");
        Assert.True(code == 0, err);
        var lines = stdout.TrimEnd().Split('\n');
        var last = Regex.Match(lines[^1], @"^examples_per_s=(\d+\.\d+) tokens_per_s=(\d+\.\d+)$");
        Assert.True(last.Success, lines[^1]);
        Assert.True(double.Parse(last.Groups[1].Value, CultureInfo.InvariantCulture) > 0);
        Assert.True(double.Parse(last.Groups[2].Value, CultureInfo.InvariantCulture) > double.Parse(last.Groups[1].Value, CultureInfo.InvariantCulture));
        // 3 timed steps of 8 rows; simcse encodes each sentence twice.
        Assert.Contains(lines, l => l.StartsWith("elapsed_s=", StringComparison.Ordinal) && l.Contains(" steps=3 examples=24 ", StringComparison.Ordinal));
        Assert.Matches(@"loss=\d+\.\d{4}", stdout);
        Assert.Contains("profile: Linear", err);
        Assert.Contains("backward", err);
    }

    [SharedFact]
    public void InitBuildsAFreshModelFromAConfigAndRunsCoSent()
    {
        using var dir = new TempDir();
        var config = dir.File("config.json");
        File.WriteAllText(config, """{"model_type":"bert","vocab_size":30522,"hidden_size":32,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":64,"max_position_embeddings":64}""");
        var data = dir.File("pairs.tsv");
        File.WriteAllLines(data, File.ReadLines(SharedData.Path("data", "sts-b-en", "train.tsv")).Take(20));
        var vocab = Path.Combine(SharedData.FixtureModel("bert-tiny-uncased"), "vocab.txt");
        var (code, stdout, err) = Bench("--init", config, "--vocab", vocab, "--data", data, "--loss", "cosent", "--batch-size", "6", "--steps", "2", "--warmup-steps", "0", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("hidden=32 layers=1", stdout);
        Assert.StartsWith("examples_per_s=", stdout.TrimEnd().Split('\n')[^1]);
    }

    [SharedFact]
    public void InitBuildsAGruFromItsConfigAndRunsAmSoftmax()
    {
        using var dir = new TempDir();
        var config = dir.File("gru.json");
        File.WriteAllText(config, "{\"model_type\":\"semblance-gru\",\"vocab_size\":30522,\"embedding_size\":16,\"hidden_size\":8,\"bidirectional\":true,\"pooling\":\"mean\"}");
        var data = dir.File("groups.tsv");
        File.WriteAllLines(data, Enumerable.Range(0, 6).SelectMany(g => new[] { $"a question about topic {g}\tg{g}", $"another question on topic {g}\tg{g}" }));
        var vocab = Path.Combine(SharedData.FixtureModel("bert-tiny-uncased"), "vocab.txt");
        var (code, stdout, err) = Bench("--init", config, "--vocab", vocab, "--data", data, "--loss", "am-softmax", "--batch-size", "4", "--steps", "2", "--warmup-steps", "0", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("semblance-gru (embedding 16, hidden 8 per direction", stdout);
        Assert.StartsWith("examples_per_s=", stdout.TrimEnd().Split('\n')[^1]);
    }

    [SharedFact]
    public void DataInTheWrongFormatNamesTheFileAndLine()
    {
        using var dir = new TempDir();
        var data = dir.File("pairs.tsv");
        File.WriteAllLines(data, ["a man plays\ta man is playing\t4.2", "only one column"]);
        var (code, _, err) = Bench("--model", SharedData.FixtureModel("bert-tiny-uncased"), "--data", data, "--loss", "cosent");
        Assert.Equal(1, code);
        Assert.Contains($"{data}:2: 1 tab-separated column, expected sentence1<TAB>sentence2<TAB>score", err);
    }
}
