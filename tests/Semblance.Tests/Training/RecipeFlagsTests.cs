// The recipe flags of `semblance train` (issue 17): pooling recorded in the saved model, dropout, schedules, weight
// decay, clipping, SimCSE's duplicate layout, and the linear pooler.
using System.Globalization;
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Tests.Cli;
using Semblance.Tests.Models;
using Semblance.Training;
using Semblance.Training.Autodiff;

namespace Semblance.Tests.Training;

public class RecipeFlagsTests
{
    private const string Bert = "bert-tiny-uncased";

    private static string[] StsLines(string file, int count) => File.ReadLines(SharedData.Path("data", "sts-b-en", file)).Take(count).ToArray();

    private static string Write(TempDir dir, string name, IEnumerable<string> lines)
    {
        var path = dir.File(name);
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void SchedulesAfterTheWarmUp()
    {
        var constant = new LearningRateSchedule(1e-3, 10, 110, ScheduleKind.Constant);
        Assert.Equal(5e-4, constant.At(5), 12);
        Assert.Equal(1e-3, constant.At(60), 12);
        Assert.Equal(1e-3, constant.At(109), 12);
        var cosine = new LearningRateSchedule(1e-3, 10, 110, ScheduleKind.Cosine);
        Assert.Equal(5e-4, cosine.At(5), 12);
        Assert.Equal(1e-3, cosine.At(10), 12);
        Assert.Equal(5e-4, cosine.At(60), 12);
        Assert.Equal(1e-3 * 0.5 * (1 + Math.Cos(Math.PI * 0.25)), cosine.At(35), 12);
        Assert.Equal(0, cosine.At(110), 12);
        Assert.Equal(ScheduleKind.Cosine, LearningRateSchedule.Parse("cosine"));
        Assert.Equal("linear", LearningRateSchedule.Format(new LearningRateSchedule(1, 0, 1).Kind));
        Assert.Contains("constant|linear|cosine", Assert.Throws<SemblanceException>(() => LearningRateSchedule.Parse("step")).Message);
    }

    [Fact]
    public void SimCseDuplicateIsTheTwoBByTwoBLossWithTheDiagonalMasked()
    {
        var a = GradientCheck.Leaf(3, 4, 50);
        var p = GradientCheck.Leaf(3, 4, 51);
        var loss = new SimCseLoss(0.5f, SimCseBatch.Duplicate);
        double reported = loss.Compute(new Tape(), [a, p], null).Reported;

        // By hand: e = [a; p] normalised; row k's target is k ± 3; the softmax runs over j ≠ k.
        var e = Enumerable.Range(0, 6).Select(k => Unit(k < 3 ? a.Data.AsSpan(k * 4, 4).ToArray() : p.Data.AsSpan((k - 3) * 4, 4).ToArray())).ToArray();
        double expected = 0;
        for (int k = 0; k < 6; k++)
        {
            int target = k < 3 ? k + 3 : k - 3;
            double denominator = Enumerable.Range(0, 6).Where(j => j != k).Sum(j => Math.Exp(Dot(e[k], e[j]) / 0.5));
            expected -= Math.Log(Math.Exp(Dot(e[k], e[target]) / 0.5) / denominator);
        }
        Assert.Equal(expected / 6, reported, 5);
        Assert.NotEqual(reported, new SimCseLoss(0.5f).Compute(new Tape(), [a, p], null).Reported, 3);
        GradientCheck.Check(t => loss.Compute(t, [a, p], null).Objective, [a, p], eps: 1e-3);
        var h = GradientCheck.Leaf(3, 4, 52);
        Assert.Throws<ArgumentException>(() => loss.Compute(new Tape(), [a, p, h], null));
    }

    private static double[] Unit(float[] v)
    {
        double norm = Math.Sqrt(v.Sum(x => (double)x * x));
        return v.Select(x => x / norm).ToArray();
    }

    private static double Dot(double[] x, double[] y) => x.Zip(y).Sum(t => t.First * t.Second);

    [Fact]
    public void PoolerLinearIsNamedAndAsksForTheUntransformedPooler()
    {
        Assert.Equal(PoolingMode.PoolerLinear, Pooling.Parse("pooler-linear"));
        Assert.Equal("pooler-linear", Pooling.Format(PoolingMode.PoolerLinear));
        Assert.Equal(new ForwardRequest(Pooler: true, LinearPooler: true), Pooling.RequestFor(PoolingMode.PoolerLinear));
        Assert.Contains("pooler-linear", Pooling.CliNames);
    }

    [SharedFact]
    public void PoolerLinearIsThePoolerBeforeTanhInInferenceAndOnTheTape()
    {
        var dev = StsLines("dev.tsv", 6).Select(l => l.Split('\t')[0]).ToArray();
        using var pooler = SentenceEncoder.Load(SharedData.FixtureModel(Bert), new EncoderOptions { Pooling = "pooler" });
        using var linear = SentenceEncoder.Load(SharedData.FixtureModel(Bert), new EncoderOptions { Pooling = "pooler-linear" });
        var tanh = pooler.Encode(dev);
        var raw = linear.Encode(dev);
        Assert.Contains(raw.SelectMany(v => v), v => Math.Abs(v) > 1.05f);
        for (int i = 0; i < dev.Length; i++)
            Assert.True(Compare.MaxAbs(raw[i].Select(MathF.Tanh).ToArray(), tanh[i]) < 1e-5f);

        var model = TrainableTransformer.Load(SharedData.FixtureModel(Bert));
        var tokenizer = Semblance.Text.BertTokenizer.Load(SharedData.FixtureModel(Bert));
        var batch = TokenBatch.FromSequences(dev.Select(s => tokenizer.Encode(s, 64).Ids).ToList());
        var onTape = model.Encode(new Tape(recording: false), batch, PoolingMode.PoolerLinear);
        for (int i = 0; i < dev.Length; i++)
            Assert.True(Compare.MaxAbs(onTape.Data.AsSpan(i * onTape.Cols, onTape.Cols).ToArray(), raw[i]) < 1e-4f);
    }

    [SharedTheory]
    [InlineData("cls", "cls")]
    [InlineData("pooler-linear", "cls")]
    [InlineData("first-last-avg", "mean")]
    public void TrainedPoolingIsRecordedAndEncodeUsesIt(string pooling, string module)
    {
        using var dir = new TempDir();
        var start = dir.Sub("start");
        foreach (var f in Directory.GetFiles(SharedData.FixtureModel(Bert))) File.Copy(f, Path.Combine(start, Path.GetFileName(f)));
        int hidden = TransformerLoader.LoadConfig(start).HiddenSize;
        SentenceTransformersConfig.Write(start, PoolingMode.Mean, normalize: false, maxSeqLength: 0, hidden);
        var train = Write(dir, "train.tsv", StsLines("train.tsv", 8));
        var dev = Write(dir, "dev.tsv", StsLines("dev.tsv", 30));
        var output = dir.Sub("out");
        var (code, stdout, err) = CliAppTests.Run("train", "--model", start, "--data", train, "--loss", "cosent", "--output", output,
            "--batch-size", "4", "--pooling", pooling, "--eval-data", dev);
        Assert.True(code == 0, err);
        Assert.Contains($"recipe: pooling {pooling}", err);
        var st = SentenceTransformersConfig.Read(output);
        Assert.Equal(Pooling.Parse(pooling), st.RecordedPooling);
        Assert.Equal(Pooling.Parse(module), Pooling.LoadSentenceTransformersConfig(st.PoolingConfigPath!, hidden));

        // encode without --pooling uses the trained pooling; the dev score train reported is what eval measures with it.
        var sentences = Write(dir, "s.txt", StsLines("dev.tsv", 3).Select(l => l.Split('\t')[0]));
        var implicitPooling = CliAppTests.Run("encode", "--model", output, "--input", sentences);
        var explicitPooling = CliAppTests.Run("encode", "--model", output, "--input", sentences, "--pooling", pooling);
        var mean = CliAppTests.Run("encode", "--model", output, "--input", sentences, "--pooling", "mean");
        Assert.Equal(explicitPooling.Out, implicitPooling.Out);
        Assert.NotEqual(mean.Out, implicitPooling.Out);
        double best = double.Parse(stdout.TrimEnd().Split('\n')[^1]["best_dev_spearman=".Length..], CultureInfo.InvariantCulture);
        var (evalCode, evalOut, evalErr) = CliAppTests.Run("eval", "sts", "--model", output, "--data", dev, "--pooling", pooling);
        Assert.True(evalCode == 0, evalErr);
        Assert.Equal(best, double.Parse(evalOut.TrimEnd().Split('\n')[^1]["spearman=".Length..], CultureInfo.InvariantCulture), 1);
    }

    [SharedFact]
    public void DropoutWeightDecayClippingAndScheduleEachChangeTheRun()
    {
        using var dir = new TempDir();
        var train = Write(dir, "sent.txt", StsLines("train.tsv", 24).Select(l => l.Split('\t')[0]));
        TrainerOptions Options(string name) => new()
        {
            Loss = TrainingLosses.SimCse, DataPath = train, OutputDir = dir.Sub(name), ModelDir = SharedData.FixtureModel(Bert), Epochs = 1,
            BatchSize = 8, LearningRate = 1e-2, WarmupSteps = 1, Threads = 1, MaxGradNorm = 1e-3,
        };
        byte[] Weights(TrainerOptions o)
        {
            new Trainer(o, TextWriter.Null).Run();
            return File.ReadAllBytes(Path.Combine(o.OutputDir, "model.safetensors"));
        }
        var baseline = Weights(Options("base"));
        Assert.Equal(baseline, Weights(Options("again")));
        Assert.NotEqual(baseline, Weights(Options("dropout") with { Dropout = 0.3 }));
        Assert.NotEqual(baseline, Weights(Options("decay") with { WeightDecay = 0.5 }));
        Assert.NotEqual(baseline, Weights(Options("noclip") with { MaxGradNorm = 0 }));
        Assert.NotEqual(baseline, Weights(Options("embedding-lr") with { EmbeddingLearningRateScale = 10 }));
        Assert.NotEqual(baseline, Weights(Options("constant") with { Schedule = ScheduleKind.Constant }));
        Assert.NotEqual(baseline, Weights(Options("duplicate") with { SimCseBatch = SimCseBatch.Duplicate }));
        Assert.NotEqual(baseline, Weights(Options("cls") with { Pooling = PoolingMode.Cls }));
    }

    [SharedTheory]
    [InlineData("simcse", new[] { "--dropout", "0" }, "needs dropout")]
    [InlineData("cosent", new[] { "--simcse-batch", "duplicate" }, "applies to --loss simcse only")]
    [InlineData("cosent", new[] { "--schedule", "step" }, "unknown schedule 'step'")]
    [InlineData("cosent", new[] { "--pooling", "avg" }, "unknown pooling mode 'avg'")]
    [InlineData("cosent", new[] { "--max-grad-norm", "-1" }, "--max-grad-norm")]
    public void BadRecipeChoicesAreOneLineErrors(string loss, string[] extra, string message)
    {
        using var dir = new TempDir();
        var data = loss == "simcse"
            ? Write(dir, "d.txt", StsLines("train.tsv", 8).Select(l => l.Split('\t')[0]))
            : Write(dir, "d.tsv", StsLines("train.tsv", 8));
        var output = dir.Sub("out");
        var (code, _, err) = CliAppTests.Run(["train", "--model", SharedData.FixtureModel(Bert), "--data", data, "--loss", loss, "--output", output, .. extra]);
        Assert.NotEqual(0, code);
        Assert.Contains(message, err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(File.Exists(Path.Combine(output, "model.safetensors")));
    }

    [SharedFact]
    public void PoolerPoolingOnAModelWithoutAPoolerIsRefused()
    {
        using var dir = new TempDir();
        var data = Write(dir, "d.tsv", StsLines("train.tsv", 8));
        var (code, _, err) = CliAppTests.Run("train", "--model", SharedData.FixtureModel("roformer-tiny-chinese"), "--data", data, "--loss", "cosent",
            "--output", dir.Sub("out"), "--pooling", "pooler-linear");
        Assert.NotEqual(0, code);
        Assert.Contains("needs a pooler layer", err);
    }
}
