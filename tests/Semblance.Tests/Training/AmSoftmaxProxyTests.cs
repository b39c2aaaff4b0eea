// AM-Softmax with class proxies (train --loss am-softmax-proxy) and the group-retrieval evaluation (eval retrieval).
using System.Globalization;
using Semblance.Evaluation;
using Semblance.Tests.Cli;
using Semblance.Tests.Models;
using Semblance.Training;

namespace Semblance.Tests.Training;

public class AmSoftmaxProxyTests
{
    private const string Bert = "bert-tiny-uncased";

    [Fact]
    public void RetrievalCountsAQueryAsAHitWhenItsGroupIsWithinK()
    {
        // 2-d unit vectors at angles; group a = {0°, 10°}, b = {90°, 100°}, c = {5°} (a singleton: candidate only).
        float[] At(params double[] degrees) => degrees.SelectMany(d => new[] { (float)Math.Cos(d * Math.PI / 180), (float)Math.Sin(d * Math.PI / 180) }).ToArray();
        string[] groups = ["a", "a", "b", "b", "c"];
        var result = GroupRetrieval.Evaluate(groups, At(0, 10, 90, 100, 5), 2, [1, 2]);
        Assert.Equal(4, result.Queries);
        Assert.Equal(2, result.Groups);
        // Query 0° has c (5°) nearer than its partner (10°): rank 1. 10°: c nearer too: rank 1. 90°, 100°: rank 0.
        Assert.Equal([(1, 50.0), (2, 100.0)], result.TopK);
        Assert.Throws<InputFormatException>(() => GroupRetrieval.Evaluate(["x", "y"], At(0, 1), 2));
    }

    [Fact]
    public void ClassesFormatNumbersGroupsInOrderOfFirstAppearance()
    {
        var data = TrainingData.Parse(["q1\tg7", "q2\tg3", "q3\tg7"], "t.tsv", TrainingLosses.AmSoftmaxProxy);
        Assert.Equal(2, data.ClassCount);
        Assert.Equal([0f, 1f, 0f], data.Rows.Select(r => r.Score));
        Assert.Contains("at least two groups", Assert.Throws<InputFormatException>(() => TrainingData.Parse(["q1\tg", "q2\tg"], "t.tsv", TrainingLosses.AmSoftmaxProxy)).Message);
        Assert.Contains("t.tsv:1", Assert.Throws<InputFormatException>(() => TrainingData.Parse(["q1"], "t.tsv", TrainingLosses.AmSoftmaxProxy)).Message);
    }

    [SharedFact]
    public void TrainsKeepsItsProxiesForResumeAndEvalRetrievalScoresTheModel()
    {
        using var dir = new TempDir();
        var pairs = File.ReadLines(SharedData.Path("data", "sts-b-en", "train.tsv")).Take(24).Select(l => l.Split('\t')).ToArray();
        var data = dir.File("groups.tsv");
        File.WriteAllLines(data, pairs.SelectMany((p, i) => new[] { $"{p[0]}\tg{i}", $"{p[1]}\tg{i}" }));
        TrainerOptions Options(string output) => new()
        {
            Loss = TrainingLosses.AmSoftmaxProxy, DataPath = data, OutputDir = output, ModelDir = SharedData.FixtureModel(Bert), Epochs = 10,
            BatchSize = 16, LearningRate = 5e-3, Threads = 1, Margin = 0.35f, Scale = 30f,
        };
        var straight = dir.Sub("straight");
        Assert.Equal(30, new Trainer(Options(straight), TextWriter.Null).Run().Steps);
        Assert.True(File.Exists(Path.Combine(straight, Trainer.LastDir, Trainer.LossWeightsFile)));
        var resumed = dir.Sub("resumed");
        Assert.True(new Trainer(Options(resumed) with { StopAfterSteps = 17 }, TextWriter.Null).Run().Stopped);
        new Trainer(Options(resumed) with { ResumeDir = resumed }, TextWriter.Null).Run();
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(resumed, "model.safetensors")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, Trainer.LastDir, Trainer.LossWeightsFile)),
            File.ReadAllBytes(Path.Combine(resumed, Trainer.LastDir, Trainer.LossWeightsFile)));

        double Top1(string model)
        {
            var (code, output, err) = CliAppTests.Run("eval", "retrieval", "--model", model, "--data", data, "-k", "1,5");
            Assert.True(code == 0, err);
            Assert.StartsWith("queries=48 candidates=48 groups=24", output);
            return double.Parse(output.Split('\n').First(l => l.StartsWith("top1=")).Split('=')[1], CultureInfo.InvariantCulture);
        }
        Assert.True(Top1(straight) > Top1(SharedData.FixtureModel(Bert)), "training on the groups should make them easier to retrieve");

        var bad = dir.File("bad.tsv");
        File.WriteAllLines(bad, ["only one column"]);
        var (badCode, _, badErr) = CliAppTests.Run("eval", "retrieval", "--model", SharedData.FixtureModel(Bert), "--data", bad);
        Assert.NotEqual(0, badCode);
        Assert.Contains("bad.tsv:1: expected text<TAB>group", badErr);
    }
}
