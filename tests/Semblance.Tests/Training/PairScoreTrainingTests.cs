// Cross-encoder (pair-score) training: the losses' gradients through BertForSequenceClassification against the PyTorch
// twin in float64 (fixtures made by tools/gradients/make_pair_score_fixtures.py), the RoFormer head on the tape, the
// saved checkpoint as the inference CrossEncoder reads it, and bad input.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Semblance.CrossEncoders;
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Numerics;
using Semblance.Tests.Cli;
using Semblance.Tests.Models;
using Semblance.Training;
using Semblance.Training.Autodiff;

namespace Semblance.Tests.Training;

public class PairScoreTrainingTests
{
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Training", "Fixtures", "pair-score");
    private const int Sep = 3;

    private static (TokenBatch Batch, JsonElement Targets, JsonDocument Doc) ReadBatch(string model, bool withTypes)
    {
        var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, model, "batch.json")));
        static List<int[]> Rows(JsonElement e) => e.EnumerateArray().Select(s => s.EnumerateArray().Select(t => t.GetInt32()).ToArray()).ToList();
        var root = doc.RootElement;
        var batch = TokenBatch.FromSequences(Rows(root.GetProperty("input_ids")), withTypes ? Rows(root.GetProperty("token_type_ids")) : null);
        return (batch, root.GetProperty("targets"), doc);
    }

    [Theory]
    [InlineData("cls1", "cosent")]
    [InlineData("cls1", "bce")]
    [InlineData("cls1", "mse")]
    [InlineData("cls3", "ce")]
    public void LossAndGradientsMatchPyTorch(string model, string lossName)
    {
        var scorer = TrainableTransformer.LoadPairScorer(Path.Combine(Dir, model), null, seed: 0);
        // Through the training view: type ids derived from [SEP] must be the tokenizer's (the batch is built without them).
        var pairModel = new PairScoringModel(scorer, Sep);
        var (batch, targets, doc) = ReadBatch(model, withTypes: false);
        using var _ = doc;
        var loss = TrainingLosses.Get(lossName, TrainingTask.PairScore).Create(new LossSettings(Scale: 20f));
        var tape = new Tape();
        var logits = pairModel.Encode(tape, batch, PoolingMode.Mean);
        var value = loss.Compute(tape, [logits], targets.GetProperty(lossName).EnumerateArray().Select(t => (float)t.GetDouble()).ToArray());
        tape.Backward(value.Objective);

        var reference = SafeTensorsContent.Read(Path.Combine(Dir, model, lossName + ".safetensors"));
        float referenceLoss = reference.Get("loss", 1)[0];
        Assert.True(Math.Abs(value.Reported - referenceLoss) <= 1e-5 * Math.Max(1, Math.Abs(referenceLoss)), $"loss {value.Reported} vs torch {referenceLoss}");
        Assert.True(Compare.MaxAbs(logits.Data, reference.Get("logits", logits.Rows, logits.Cols)) < 1e-5);
        var gradNames = reference.Names.Where(n => n.StartsWith("grad.", StringComparison.Ordinal)).ToHashSet();
        Assert.Equal(gradNames, scorer.Parameters.Where(p => p.RequiresGrad).Select(p => "grad." + scorer.CheckpointName(p)).ToHashSet());
        float largest = gradNames.Max(n => reference.Get(n, reference.Shape(n)).Max(Math.Abs)), worst = 0;
        string worstName = "";
        foreach (var p in scorer.Parameters.Where(p => p.RequiresGrad))
        {
            Assert.NotNull(p.Grad);
            float error = Compare.MaxAbs(p.Grad, reference.Get("grad." + scorer.CheckpointName(p), p.Shape));
            if (error > worst) (worst, worstName) = (error, p.Name);
        }
        Assert.True(largest > 0);
        // CoSENT multiplies the float32 logits' rounding by λ = 20 before the exponentials, hence its looser bound.
        double tolerance = lossName == "cosent" ? 1e-4 : 1e-5;
        Assert.True(worst <= tolerance * largest, $"{worstName}: {worst} vs largest {largest}");
        Assert.Contains(scorer["classifier.weight"].Grad!, g => g != 0);
    }

    [Fact]
    public void TapeLogitsEqualTheInferenceCrossEncoders()
    {
        var dir = Path.Combine(Dir, "cls3");
        var scorer = TrainableTransformer.LoadPairScorer(dir, null, seed: 0);
        var (batch, _, doc) = ReadBatch("cls3", withTypes: true);
        using var __ = doc;
        var logits = scorer.Score(new Tape(recording: false), batch);
        using var ce = CrossEncoder.Load(dir, new CrossEncoderOptions { Threads = 1 });
        var texts = File.ReadAllLines(Path.Combine(dir, "vocab.txt"));
        var pairs = new List<(string, string)>();
        for (int b = 0; b < batch.BatchSize; b++)
        {
            var ids = batch.Ids.AsSpan(batch.Offsets[b], batch.Length(b)).ToArray();
            int sep = Array.IndexOf(ids, Sep);
            pairs.Add((string.Join(' ', ids[1..sep].Select(i => texts[i])), string.Join(' ', ids[(sep + 1)..^1].Select(i => texts[i]))));
        }
        var expected = ce.Predict(pairs);
        for (int b = 0; b < batch.BatchSize; b++) Assert.True(Compare.MaxAbs(logits.Row(b), expected[b]) < 1e-5, $"pair {b}");
    }

    /// <summary>RoFormer's head (dense → act → out_proj on [CLS], no pooler) on the tape, by central differences.</summary>
    [Fact]
    public void RoFormerHeadGradientsMatchFiniteDifferences()
    {
        using var dir = new TempDir();
        var config = new JsonObject
        {
            ["model_type"] = "roformer", ["vocab_size"] = 20, ["hidden_size"] = 8, ["embedding_size"] = 8, ["num_hidden_layers"] = 1,
            ["num_attention_heads"] = 2, ["intermediate_size"] = 12, ["max_position_embeddings"] = 16, ["hidden_act"] = "gelu", ["initializer_range"] = 0.3,
        };
        File.WriteAllText(dir.File("config.json"), config.ToJsonString());
        TrainableTransformer.Initialize(TransformerConfig.Load(dir.File("config.json")), seed: 3).SaveWeights(dir.File("model.safetensors"));
        var scorer = TrainableTransformer.LoadPairScorer(dir.Path, numLabels: 2, seed: 4);
        Assert.Equal(2, scorer.NumLabels);
        Assert.StartsWith("roformer.", scorer.CheckpointName(scorer["encoder.layer.0.attention.self.query.weight"]));
        var batch = TokenBatch.FromSequences([[2, 5, 6, 3, 7, 3], [2, 9, 3, 4, 4, 8, 3]], [[0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1, 1]]);
        var inputs = new[] { "classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "encoder.layer.0.output.dense.bias" }
            .Select(n => scorer[n]).ToArray();
        // The check edits weights in place: mark them changed so the cached packed copies are rebuilt each pass.
        GradientCheck.Check(tape =>
        {
            foreach (var p in inputs) p.MarkUpdated();
            return scorer.Score(tape, batch);
        }, inputs);
    }

    [Fact]
    public void HeadLearningRateFactorMovesOnlyThePoolerAndClassifierFaster()
    {
        // One AdamW step from the same weights and batch, head factor 1 and 10: the pooler's and classifier's updates
        // (Adam step and decay alike scale with the rate) are 10x, every encoder tensor moves exactly as without it.
        int[] Pair(string a, string b) => [2, .. a.Split(' ').Select(int.Parse), Sep, .. b.Split(' ').Select(int.Parse), Sep];
        var rows = new[] { new TrainingRow(["5 6", "7"], 0.2f), new TrainingRow(["9", "4 4 8"], 0.9f), new TrainingRow(["11 12", "13"], 0.5f) };
        TrainableTransformer Step(double factor)
        {
            var scorer = TrainableTransformer.LoadPairScorer(Path.Combine(Dir, "cls1"), null, seed: 0);
            var step = new TrainingStep(new PairScoringModel(scorer, Sep), TrainingLosses.PairMse, new LossSettings(), _ => throw new InvalidOperationException("pairs only"),
                seed: 1, pairTokens: Pair, headLearningRateFactor: factor);
            Assert.True(step.Run(rows, 0, 1e-3, ComputeContext.Single).Updated);
            return scorer;
        }
        var start = TrainableTransformer.LoadPairScorer(Path.Combine(Dir, "cls1"), null, seed: 0);
        var (plain, fast) = (Step(1), Step(10));
        var head = start.Parameters.Where(start.IsHeadParameter).Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["classifier.bias", "classifier.weight", "pooler.dense.bias", "pooler.dense.weight"], head);
        foreach (var p in start.Parameters)
        {
            float[] a = plain[p.Name].Data, b = fast[p.Name].Data;
            if (!head.Contains(p.Name)) { Assert.Equal(a, b); continue; }
            for (int i = 0; i < a.Length; i++) Assert.Equal(10 * (a[i] - p.Data[i]), b[i] - p.Data[i], 1e-5);
            Assert.NotEqual(p.Data, a);
        }
    }

    [Fact]
    public void TrainedCrossEncoderSavesInTransformersLayoutAndLoadsForPairScore()
    {
        using var dir = new TempDir();
        var start = dir.Sub("start");
        foreach (var f in new[] { "config.json", "vocab.txt" }) File.Copy(Path.Combine(Dir, "cls1", f), Path.Combine(start, f));
        // Start from a bare encoder: the cls1 encoder's tensors without bert. prefix and without the head.
        var content = SafeTensorsContent.Read(Path.Combine(Dir, "cls1", "model.safetensors"));
        var writer = new SafeTensorsWriter();
        foreach (var name in content.Names.Where(n => n.StartsWith("bert.", StringComparison.Ordinal)))
            writer.Add(name["bert.".Length..], content.Shape(name), content.Get(name, content.Shape(name)));
        writer.Save(Path.Combine(start, "model.safetensors"));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(start, "config.json")))!.AsObject();
        foreach (var key in new[] { "architectures", "num_labels", "id2label", "label2id" }) config.Remove(key);
        File.WriteAllText(Path.Combine(start, "config.json"), config.ToJsonString());

        var lines = Enumerable.Range(0, 24).Select(i => $"w{i % 7} w{(i * 3) % 11} w{i % 5}\tw{(i + 1) % 7} w{i % 13}\t{(i % 6) * 0.8:F1}").ToArray();
        var train = dir.File("train.tsv");
        File.WriteAllLines(train, lines);
        var output = dir.Sub("out");
        var (code, stdout, err) = CliAppTests.Run("train", "--task", "pair-score", "--model", start, "--data", train, "--loss", "mse", "--max-score", "5",
            "--output", output, "--batch-size", "8", "--lr", "1e-2", "--eval-data", train, "--threads", "1", "--seed", "2");
        Assert.True(code == 0, err);
        Assert.StartsWith("best_dev_spearman=", stdout.TrimEnd().Split('\n')[^1]);
        var saved = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!.AsObject();
        Assert.Equal("BertForSequenceClassification", saved["architectures"]![0]!.GetValue<string>());
        Assert.Equal(1, saved["num_labels"]!.GetValue<int>());
        Assert.Equal("LABEL_0", saved["id2label"]!["0"]!.GetValue<string>());
        var names = SafeTensorsContent.Read(Path.Combine(output, "model.safetensors")).Names.ToList();
        Assert.Contains("classifier.weight", names);
        Assert.Contains("bert.pooler.dense.weight", names);
        Assert.All(names, n => Assert.True(n.StartsWith("bert.", StringComparison.Ordinal) || n.StartsWith("classifier.", StringComparison.Ordinal), n));
        Assert.False(File.Exists(Path.Combine(output, "modules.json")));

        // pair-score reads it, and its scores are the tape's (the dev Spearman the trainer reported is of these scores).
        var (scoreCode, scores, scoreErr) = CliAppTests.Run("pair-score", "--model", output, "--input", train);
        Assert.True(scoreCode == 0, scoreErr);
        var cli = scores.TrimEnd().Split('\n').Select(l => JsonSerializer.Deserialize<float[]>(l)![0]).ToArray();
        var gold = lines.Select(l => double.Parse(l.Split('\t')[2], CultureInfo.InvariantCulture)).ToArray();
        double spearman = 100 * Semblance.Evaluation.Correlation.Spearman(cli.Select(v => (double)v).ToArray(), gold);
        Assert.Equal(double.Parse(stdout.TrimEnd().Split('\n')[^1]["best_dev_spearman=".Length..], CultureInfo.InvariantCulture), spearman, 1);

        // Fine-tuning the saved cross-encoder again keeps its head; a different --num-labels is refused.
        var again = CliAppTests.Run("train", "--task", "pair-score", "--model", output, "--data", train, "--loss", "ce", "--num-labels", "3",
            "--output", dir.Sub("again"), "--threads", "1");
        Assert.Equal(1, again.Code);
        Assert.Contains("--num-labels 3 disagrees", again.Err);
        Assert.Single(again.Err.Trim().Split('\n'));
    }

    [Fact]
    public void ResumingAnEmbeddingRunAsPairScoreIsRefused()
    {
        using var dir = new TempDir();
        var train = dir.File("train.tsv");
        File.WriteAllLines(train, Enumerable.Range(0, 8).Select(i => $"w{i} w{i + 1}\tw{i + 2}\t{i % 5}"));
        var output = dir.Sub("out");
        var first = CliAppTests.Run("train", "--model", Path.Combine(Dir, "cls1"), "--data", train, "--loss", "cosent", "--output", output, "--batch-size", "4", "--threads", "1");
        Assert.True(first.Code == 0, first.Err);
        var (code, _, err) = CliAppTests.Run("train", "--task", "pair-score", "--resume", output, "--data", train, "--loss", "cosent", "--output", output, "--threads", "1");
        Assert.Equal(1, code);
        Assert.Contains("trained with --task embedding, not pair-score", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("cls1", "bce", "a b\tc d\t3", new string[0], "outside [0, 1]")]
    [InlineData("cls1", "bce", "a b\tc d\t3", new[] { "--max-score", "5" }, null)]
    [InlineData("cls1", "mse", "a b\tc d\t4.2", new string[0], "--max-score 5")]
    [InlineData("cls3", "ce", "a b\tc d\t3", new string[0], "integer class 0..2")]
    [InlineData("cls3", "ce", "a b\tc d\t1.5", new string[0], "not a class index")]
    [InlineData("cls3", "ce", "a b\tc d\t2", new[] { "--num-labels", "2" }, "--num-labels 2 disagrees")]
    [InlineData("cls3", "ce", "a b\tc d\t2", new[] { "--num-labels", "3" }, null)]
    [InlineData("cls1", "ce", "a b\tc d\t1", new string[0], "two or more classes")]
    [InlineData("cls3", "bce", "a b\tc d\t1", new string[0], "one output (num_labels 1)")]
    [InlineData("cls1", "cosent", "a b\tc d", new string[0], "expected text<TAB>text_pair<TAB>label")]
    [InlineData("cls1", "cosent", "a b\tc d\thigh", new string[0], "not a number")]
    public void BadPairInputIsAOneLineError(string model, string loss, string line, string[] extra, string? message)
    {
        using var dir = new TempDir();
        var train = dir.File("train.tsv");
        File.WriteAllLines(train, ["w1 w2\tw3\t0", "w4\tw5 w6\t1", line]);
        var (code, _, err) = CliAppTests.Run(["train", "--task", "pair-score", "--model", Path.Combine(Dir, model), "--data", train, "--loss", loss,
            "--output", dir.Sub("out"), "--threads", "1", .. extra]);
        if (message is null)
        {
            Assert.True(code == 0, err);
            return;
        }
        Assert.Equal(1, code);
        Assert.Contains(message, err);
        Assert.Single(err.Trim().Split('\n'));
    }
}
