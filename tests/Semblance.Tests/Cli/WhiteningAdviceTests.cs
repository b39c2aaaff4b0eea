// eval sts --whitening-fit (the whitening fitted on a chosen corpus) and the dimension advice of whiten fit.
using System.Globalization;
using Semblance.Embeddings;
using Semblance.Evaluation;
using Semblance.Tests.Models;

namespace Semblance.Tests.Cli;

public class WhiteningAdviceTests
{
    private const string Bert = "bert-tiny-uncased";

    private static string Lines(TempDir dir, string name, string file, int count)
    {
        var path = dir.File(name);
        File.WriteAllLines(path, File.ReadLines(SharedData.Path("data", "sts-b-en", file)).Take(count));
        return path;
    }

    private static double LastSpearman(string output) =>
        double.Parse(output.TrimEnd().Split('\n')[^1]["spearman=".Length..], CultureInfo.InvariantCulture);

    [SharedFact]
    public void WhiteningFitCorpusIsChosenAndDefaultsToTheEvaluatedFile()
    {
        using var dir = new TempDir();
        var dev = Lines(dir, "dev.tsv", "dev.tsv", 150);
        var train = Lines(dir, "train.tsv", "train.tsv", 300);
        string[] common = ["eval", "sts", "--model", SharedData.FixtureModel(Bert), "--data", dev, "--whitening", "fit", "--pooling", "mean"];
        var own = CliAppTests.Run(common);
        var sameFile = CliAppTests.Run([.. common, "--whitening-fit", dev]);
        var other = CliAppTests.Run([.. common, "--whitening-fit", $"{train},{dev}"]);
        Assert.True(own.Code == 0 && sameFile.Code == 0 && other.Code == 0, own.Err + sameFile.Err + other.Err);
        Assert.Equal(LastSpearman(own.Out), LastSpearman(sameFile.Out));
        Assert.NotEqual(LastSpearman(own.Out), LastSpearman(other.Out));
        Assert.Contains("fit:train.tsv+dev.tsv", other.Out);

        var misuse = CliAppTests.Run("eval", "sts", "--model", SharedData.FixtureModel(Bert), "--data", dev, "--whitening-fit", train);
        Assert.Equal(2, misuse.Code);
        Assert.Contains("--whitening-fit needs --whitening fit", misuse.Err);
    }

    [Fact]
    public void CandidatesAndEnergyCurve()
    {
        Assert.Equal([8, 16, 32, 64, 128], WhiteningAdvisor.Candidates(128));
        Assert.Equal([8, 16, 20], WhiteningAdvisor.Candidates(20));
        Assert.Equal([4], WhiteningAdvisor.Candidates(4));
        var rng = new Random(3);
        int n = 200, d = 24;
        var x = new float[n * d];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() - 0.5) * (1 + i % d);
        var full = Whitening.Fit(x, n, d);
        var curve = WhiteningAdvisor.EnergyCurve(full);
        Assert.Equal([8, 16, 24], curve.Select(p => p.Dims));
        Assert.True(curve[0].Energy < curve[1].Energy && curve[1].Energy < curve[2].Energy);
        Assert.Equal(1.0, curve[^1].Energy, 9);
        Assert.Equal(full.Truncate(8).ExplainedVariance, curve[0].Energy, 9);
        Assert.Equal(24, WhiteningAdvisor.SmallestForEnergy(curve, 0.99999));
        Assert.Equal(8, WhiteningAdvisor.SmallestForEnergy(curve, curve[0].Energy));
    }

    [SharedFact]
    public void WhitenFitAdvisesTheSmallestDimsWithinHalfAPoint()
    {
        using var dir = new TempDir();
        var dev = Lines(dir, "dev.tsv", "dev.tsv", 150);
        var corpus = dir.File("corpus.txt");
        File.WriteAllLines(corpus, File.ReadLines(SharedData.Path("data", "sts-b-en", "train.tsv")).Take(300).SelectMany(l => l.Split('\t').Take(2)));
        var (code, output, err) = CliAppTests.Run("whiten", "fit", "--model", SharedData.FixtureModel(Bert), "--input", corpus, "--pooling", "mean",
            "--output", dir.File("w.safetensors"), "--eval-data", dev);
        Assert.True(code == 0, err);
        var rows = output.Split('\n').Where(l => l.StartsWith("advice: ") && char.IsDigit(l.TrimStart()[^1]) && !l.Contains("dims="))
            .Select(l => l["advice: ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(f => (Dims: int.Parse(f[0], CultureInfo.InvariantCulture), Spearman: double.Parse(f[2], CultureInfo.InvariantCulture))).ToList();
        Assert.Equal(WhiteningAdvisor.Candidates(rows[^1].Dims), rows.Select(r => r.Dims));
        int expected = rows.First(r => r.Spearman >= rows[^1].Spearman - 0.5).Dims;
        Assert.Contains($"advice: dims={expected} (the smallest candidate within 0.5 Spearman points", output);

        // The full-dimension row is what eval sts measures with the saved (all-dims) whitening.
        var eval = CliAppTests.Run("eval", "sts", "--model", SharedData.FixtureModel(Bert), "--data", dev, "--pooling", "mean", "--whitening", dir.File("w.safetensors"));
        Assert.True(eval.Code == 0, eval.Err);
        Assert.Equal(rows[^1].Spearman, LastSpearman(eval.Out), 2);

        var plain = CliAppTests.Run("whiten", "fit", "--model", SharedData.FixtureModel(Bert), "--input", corpus, "--output", dir.File("w2.safetensors"));
        Assert.True(plain.Code == 0, plain.Err);
        Assert.Contains("90% of the variance in dims=", plain.Out);
    }
}
