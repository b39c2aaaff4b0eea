// `semblance train` end to end on the tiny fixture models: outputs, exact resume, every loss, and bad input.
using System.Text.Json.Nodes;
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Tests.Cli;
using Semblance.Tests.Models;
using Semblance.Training;
using Semblance.Training.Autodiff;

namespace Semblance.Tests.Training;

public class TrainCommandTests
{
    private static readonly string Bert = "bert-tiny-uncased";

    private static string[] StsLines(string file, int count) => File.ReadLines(SharedData.Path("data", "sts-b-en", file)).Take(count).ToArray();

    private static string Write(TempDir dir, string name, IEnumerable<string> lines)
    {
        var path = dir.File(name);
        File.WriteAllLines(path, lines);
        return path;
    }

    private static (int Code, string Out, string Err) Train(params string[] args) => CliAppTests.Run(["train", .. args]);

    [SharedFact]
    public void CoSentRunSavesAnEncodableModelAndReportsDevSpearman()
    {
        using var dir = new TempDir();
        var train = Write(dir, "train.tsv", StsLines("train.tsv", 96));
        var dev = Write(dir, "dev.tsv", StsLines("dev.tsv", 60));
        var output = dir.Sub("out");
        var (code, stdout, err) = Train("--model", SharedData.FixtureModel(Bert), "--data", train, "--loss", "cosent", "--output", output,
            "--epochs", "2", "--batch-size", "16", "--lr", "1e-3", "--eval-data", dev, "--eval-every", "4", "--accumulate", "2");
        Assert.True(code == 0, err);
        var last = stdout.TrimEnd().Split('\n')[^1];
        Assert.StartsWith("best_dev_spearman=", last);
        double best = double.Parse(last["best_dev_spearman=".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("dev spearman", err);
        Assert.Contains("ex/s", err);
        foreach (var f in new[] { "config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json" }) Assert.True(File.Exists(Path.Combine(output, f)), f);
        Assert.True(File.Exists(Path.Combine(output, Trainer.LastDir, Trainer.StateFile)));

        // The saved best model is what `semblance eval sts` (the inference engine) scores at the reported value.
        var (evalCode, evalOut, evalErr) = CliAppTests.Run("eval", "sts", "--model", output, "--data", dev);
        Assert.True(evalCode == 0, evalErr);
        double inference = double.Parse(evalOut.TrimEnd().Split('\n')[^1]["spearman=".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(best, inference, 1);
        var untrained = CliAppTests.Run("eval", "sts", "--model", SharedData.FixtureModel(Bert), "--data", dev).Out;
        Assert.NotEqual(untrained.TrimEnd().Split('\n')[^1], evalOut.TrimEnd().Split('\n')[^1]);
    }

    [SharedFact]
    public void SavedModelKeepsTheStartModelsSentenceTransformersModules()
    {
        using var dir = new TempDir();
        var start = dir.Sub("start");
        foreach (var f in Directory.GetFiles(SharedData.FixtureModel(Bert))) File.Copy(f, Path.Combine(start, f[(Path.GetDirectoryName(f)!.Length + 1)..]));
        int hidden = TransformerLoader.LoadConfig(start).HiddenSize;
        SentenceTransformersConfig.Write(start, PoolingMode.Cls, normalize: true, maxSeqLength: 256, hidden);
        var prompts = new Dictionary<string, string> { ["query"] = "query: ", ["passage"] = "" };
        SentenceTransformersConfig.WritePrompts(start, prompts, "query");
        var train = Write(dir, "train.tsv", StsLines("train.tsv", 4));
        var output = dir.Sub("out");
        var (code, _, err) = Train("--model", start, "--data", train, "--loss", "cosent", "--output", output, "--batch-size", "4", "--max-length", "32");
        Assert.True(code == 0, err);
        Assert.Contains("says pooling cls, but training pools with mean", err);
        Assert.Contains("1/1", err);
        foreach (var saved in new[] { output, Path.Combine(output, Trainer.LastDir) })
        {
            var st = SentenceTransformersConfig.Read(saved);
            Assert.True(st.Normalize, saved);
            Assert.Equal(256, st.MaxSeqLength);
            Assert.Equal(PoolingMode.Mean, Pooling.LoadSentenceTransformersConfig(st.PoolingConfigPath!, hidden));
            Assert.Equal(prompts.OrderBy(p => p.Key), st.Prompts.OrderBy(p => p.Key));
            Assert.Equal("query", st.DefaultPromptName);
        }

        // A start model without module files gives a saved model without them, as before.
        var plain = dir.Sub("plain");
        Assert.Equal(0, Train("--model", SharedData.FixtureModel(Bert), "--data", train, "--loss", "cosent", "--output", plain, "--batch-size", "4").Code);
        Assert.False(File.Exists(Path.Combine(plain, "modules.json")));
        Assert.False(File.Exists(Path.Combine(plain, "config_sentence_transformers.json")));
    }

    [SharedFact]
    public void ResumedRunEndsWithTheSameWeightsAsAnUninterruptedOne()
    {
        using var dir = new TempDir();
        var train = Write(dir, "sent.txt", StsLines("train.tsv", 40).Select(l => l.Split('\t')[0]));
        TrainerOptions Options(string output) => new()
        {
            Loss = TrainingLosses.SimCse, DataPath = train, OutputDir = output, ModelDir = SharedData.FixtureModel(Bert), Epochs = 2, BatchSize = 8,
            LearningRate = 1e-3, WarmupSteps = 3, Threads = 1,
        };
        var straight = dir.Sub("straight");
        var full = new Trainer(Options(straight), TextWriter.Null).Run();
        Assert.False(full.Stopped);
        Assert.Equal(10, full.Steps);
        Assert.True(double.IsNaN(full.BestSpearman));

        var resumed = dir.Sub("resumed");
        var partial = new Trainer(Options(resumed) with { StopAfterSteps = 3 }, TextWriter.Null).Run();
        Assert.True(partial.Stopped);
        var (code, stdout, err) = Train("--model", SharedData.FixtureModel(Bert), "--data", train, "--loss", "simcse", "--output", resumed,
            "--epochs", "2", "--batch-size", "8", "--lr", "1e-3", "--warmup", "3", "--threads", "1", "--resume", resumed);
        Assert.True(code == 0, err);
        Assert.StartsWith("trained: ", stdout.TrimEnd().Split('\n')[^1]);
        Assert.Contains("resuming at step 3", err);
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(resumed, "model.safetensors")));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(SharedData.FixtureModel(Bert), "model.safetensors")));
    }

    [SharedTheory]
    [InlineData("simcse")]
    [InlineData("sup-simcse")]
    [InlineData("am-softmax")]
    [InlineData("flatnce")]
    public void EveryLossTrainsAndLowersItsLoss(string loss)
    {
        using var dir = new TempDir();
        var pairs = StsLines("train.tsv", 24).Select(l => l.Split('\t')).ToArray();
        IEnumerable<string> lines = loss switch
        {
            "sup-simcse" => pairs.Select((p, i) => $"{p[0]}\t{p[1]}\t{pairs[(i + 5) % pairs.Length][1]}"),
            "am-softmax" => pairs.SelectMany((p, i) => new[] { $"{p[0]}\tg{i}", $"{p[1]}\tg{i}" }),
            _ => pairs.Select(p => p[0]),
        };
        var data = Write(dir, "data.tsv", lines);
        var model = TrainableTransformer.Load(SharedData.FixtureModel(Bert));
        var before = LossOnData(model, loss, data);
        var output = dir.Sub("out");
        var (code, stdout, err) = Train("--model", SharedData.FixtureModel(Bert), "--data", data, "--loss", loss, "--output", output,
            "--epochs", "4", "--batch-size", "8", "--accumulate", "2", "--lr", "2e-3", "--temperature", "0.1");
        Assert.True(code == 0, err);
        Assert.StartsWith("trained: ", stdout.TrimEnd().Split('\n')[^1]);
        var after = LossOnData(TrainableTransformer.Load(output), loss, data);
        Assert.True(after < before, $"{loss}: loss {before} before, {after} after training");
    }

    /// <summary>The loss on the first 8 rows of the data, no dropout.</summary>
    private static double LossOnData(TrainableTransformer model, string lossName, string path)
    {
        var options = new TrainerOptions { Loss = TrainingLosses.Get(lossName), DataPath = path, OutputDir = "", Temperature = 0.1f };
        var data = TrainingData.Load(path, options.Loss);
        var rows = data.Batches(8, 1, 0)[0];
        var tokenizer = Semblance.Text.BertTokenizer.Load(SharedData.FixtureModel(Bert));
        var tape = new Tape(recording: false);
        var columns = Enumerable.Range(0, rows[0].Texts.Length)
            .Select(c => model.Encode(tape, TokenBatch.FromSequences(rows.Select(r => tokenizer.Encode(r.Texts[c], 64).Ids).ToList()), PoolingMode.Mean))
            .ToList();
        return options.Loss.Create(options.LossSettings).Compute(tape, columns, rows.Select(r => r.Score).ToArray()).Reported;
    }

    /// <summary>
    /// SimBERT from a sentence encoder without a head (one is initialised) and from a RoFormerForMaskedLM: the loss
    /// falls, the output is a *ForMaskedLM checkpoint in Hugging Face's layout, and `generate` and `encode` load it.
    /// </summary>
    [SharedTheory]
    [InlineData("models", "bert-tiny-uncased", "BertForMaskedLM", "bert.", false)]
    [InlineData("heads", "roformer-tiny-mlm", "RoFormerForMaskedLM", "roformer.", true)]
    public void SimBertTrainsAGeneratorThatGenerateLoads(string kind, string name, string architecture, string prefix, bool teacher)
    {
        using var dir = new TempDir();
        var start = SharedData.Path("fixtures", kind, name);
        var pairs = StsLines("train.tsv", 16).Select(l => l.Split('\t')).Select(p => $"{p[0]}\t{p[1]}").ToArray();
        var data = Write(dir, "pairs.tsv", pairs);
        var output = dir.Sub("out");
        string[] args = ["--model", start, "--data", data, "--loss", "simbert", "--output", output,
            "--epochs", "3", "--batch-size", "8", "--lr", "2e-3", "--max-length", "24", "--corrupt", "0.1",
            .. (teacher ? new[] { "--teacher", start } : ["--head-lr", "2e-2"])];
        var (code, _, err) = Train(args);
        Assert.True(code == 0, err);
        Assert.Equal(kind == "models", err.Contains("has no masked-LM head", StringComparison.Ordinal));

        double Loss(TrainableTransformer model)
        {
            var tokenizer = Semblance.Text.BertTokenizer.Load(start);
            var rows = pairs.Take(8).Select(p => p.Split('\t')).ToArray();
            var value = new SimBertLoss().Compute(new Tape(recording: false), model,
                rows.Select(r => tokenizer.Encode(r[0], 24).Ids).ToList(), rows.Select(r => tokenizer.Encode(r[1], 24).Ids).ToList(), null);
            return value.Total.Reported;
        }
        double before = Loss(TrainableTransformer.LoadWithMaskedLmHead(start, 42, out _));
        double after = Loss(TrainableTransformer.LoadWithMaskedLmHead(output, 42, out bool initialized));
        Assert.False(initialized);
        Assert.True(after < before, $"simbert loss {before} before, {after} after training");

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!;
        Assert.Equal(architecture, config["architectures"]![0]!.GetValue<string>());
        var names = SafeTensorsContent.Read(Path.Combine(output, "model.safetensors")).Names.ToList();
        Assert.Contains(prefix + "embeddings.word_embeddings.weight", names);
        Assert.Contains("cls.predictions.bias", names);
        Assert.DoesNotContain("cls.predictions.decoder.weight", names);
        var (genCode, genOut, genErr) = CliAppTests.RunWithInput("a man is playing a guitar\n", "generate", "--model", output, "--greedy", "--max-new-tokens", "4");
        Assert.True(genCode == 0, genErr);
        Assert.Contains("\"ids\"", genOut);
        var (encCode, _, encErr) = CliAppTests.RunWithInput("a man\n", "encode", "--model", output);
        Assert.True(encCode == 0, encErr);
    }

    [SharedFact]
    public void TeacherIsForSimBertOnly()
    {
        using var dir = new TempDir();
        var data = Write(dir, "pairs.tsv", ["a\tb", "c\td"]);
        var (code, _, err) = Train("--model", SharedData.FixtureModel(Bert), "--data", data, "--loss", "sup-simcse", "--output", dir.Sub("out"),
            "--teacher", SharedData.FixtureModel(Bert));
        Assert.Equal(1, code);
        Assert.Contains("--teacher distils SimBERT's [CLS] vector; --loss sup-simcse does not take it", err);
    }

    [SharedFact]
    public void HeadLearningRateNeedsAHeadOnTheEncoder()
    {
        using var dir = new TempDir();
        var data = Write(dir, "pairs.tsv", ["a\tb", "c\td"]);
        var (code, _, err) = Train("--model", SharedData.FixtureModel(Bert), "--data", data, "--loss", "sup-simcse", "--output", dir.Sub("out"),
            "--head-lr", "1e-3");
        Assert.NotEqual(0, code);
        Assert.Contains("--head-lr sets the rate of a head on the encoder (simbert's masked-LM head, --task pair-score's classifier); --loss sup-simcse has no head", err);
        Assert.False(Directory.Exists(dir.Sub("out")) && Directory.EnumerateFileSystemEntries(dir.Sub("out")).Any());
    }

    [Fact]
    public void SimBertRefusesAModelThatIsNotBertOrRoFormer()
    {
        using var dir = new TempDir();
        var data = Write(dir, "pairs.tsv", ["a\tb", "c\td"]);
        var gru = Path.Combine(AppContext.BaseDirectory, "Training", "Fixtures", "gru");
        var (code, _, err) = Train("--model", gru, "--data", data, "--loss", "simbert", "--output", dir.Sub("out"));
        Assert.Equal(1, code);
        Assert.Contains("--loss simbert trains a BERT or RoFormer model with a masked-LM head", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [SharedFact]
    public void FromScratchWithInitAndVocab()
    {
        using var dir = new TempDir();
        var config = new JsonObject
        {
            ["model_type"] = "bert", ["architectures"] = new JsonArray("BertModel"), ["vocab_size"] = 30522, ["hidden_size"] = 16,
            ["num_hidden_layers"] = 1, ["num_attention_heads"] = 2, ["intermediate_size"] = 32, ["hidden_act"] = "gelu",
            ["max_position_embeddings"] = 32, ["type_vocab_size"] = 2, ["layer_norm_eps"] = 1e-12, ["pad_token_id"] = 0,
        };
        var configPath = dir.File("config.json");
        File.WriteAllText(configPath, config.ToJsonString());
        var data = Write(dir, "sent.txt", StsLines("train.tsv", 16).Select(l => l.Split('\t')[0]));
        var output = dir.Sub("out");
        var (code, _, err) = Train("--init", configPath, "--vocab", Path.Combine(SharedData.FixtureModel(Bert), "vocab.txt"), "--data", data,
            "--loss", "simcse", "--output", output, "--batch-size", "8", "--max-length", "16");
        Assert.True(code == 0, err);
        var (encodeCode, _, encodeErr) = CliAppTests.RunWithInput("a new model\n", "encode", "--model", output, "--format", "npy", "--output", dir.File("v.npy"));
        Assert.True(encodeCode == 0, encodeErr);
        Assert.Equal(16, Semblance.IO.Npy.ReadFloat32(dir.File("v.npy")).Data.Length);
    }

    [SharedTheory]
    [InlineData("cosent", "a\tb\t3\nc\td\n", "data.tsv:2: 2 tab-separated columns")]
    [InlineData("cosent", "a\tb\t3\nc\td\t7.5\n", "data.tsv:2: score 7.5 is out of range")]
    [InlineData("cosent", "a\tb\tx\n", "data.tsv:1: score 'x' is not a number")]
    [InlineData("sup-simcse", "a\tb\tc\nd\te\n", "data.tsv:2: 2 columns, but earlier lines have 3")]
    [InlineData("simcse", "one\ntwo\tthree\n", "data.tsv:2: 2 tab-separated columns")]
    [InlineData("am-softmax", "a\tg1\nb\tg1\nc\tg2\n", "group 'g2' has only one member")]
    [InlineData("am-softmax", "a\tg1\nb\n", "data.tsv:2: 1 tab-separated column,")]
    [InlineData("simcse", "\n  \n", "no training examples")]
    [InlineData("simbert", "a\tb\nc\n", "data.tsv:2: 1 tab-separated column, expected sentence<TAB>similar sentence for --loss simbert")]
    [InlineData("simbert", "a\tb\tc\n", "data.tsv:1: 3 tab-separated columns, expected sentence<TAB>similar sentence")]
    public void BadDataIsAOneLineError(string loss, string content, string message)
    {
        using var dir = new TempDir();
        var data = dir.File("data.tsv");
        File.WriteAllText(data, content);
        var (code, _, err) = Train("--model", SharedData.FixtureModel(Bert), "--data", data, "--loss", loss, "--output", dir.Sub("out"));
        Assert.NotEqual(0, code);
        Assert.Contains(message, err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [SharedFact]
    public void ResumeRefusesACheckpointOfAnotherArchitecture()
    {
        using var dir = new TempDir();
        var data = Write(dir, "sent.txt", StsLines("train.tsv", 8).Select(l => l.Split('\t')[0]));
        var output = dir.Sub("out");
        Assert.Equal(0, Train("--model", SharedData.FixtureModel("roformer-tiny-chinese"), "--data", data, "--loss", "simcse", "--output", output, "--batch-size", "4").Code);
        var (code, _, err) = Train("--model", SharedData.FixtureModel(Bert), "--data", data, "--loss", "simcse", "--output", output, "--resume", output);
        Assert.NotEqual(0, code);
        Assert.Contains("the checkpoint is roformer", err);
        Assert.Contains("the model given is bert", err);
    }

    [SharedFact]
    public void NaNLossStopsAndKeepsTheLastGoodCheckpoint()
    {
        using var dir = new TempDir();
        // A model whose embedding row for "zebra" is NaN: every batch holding that sentence has a NaN loss.
        var model = Checkpoint.ReadFixture(Bert);
        var tokenizer = Semblance.Text.BertTokenizer.Load(SharedData.FixtureModel(Bert));
        int zebra = tokenizer.Encode("zebra", 8).Ids[1];
        var words = model["embeddings.word_embeddings.weight"];
        Array.Fill(words.Values, float.NaN, zebra * words.Shape[1], words.Shape[1]);
        var modelDir = dir.Sub("poisoned");
        model.Save(modelDir);
        foreach (var f in new[] { "vocab.txt", "tokenizer_config.json", "special_tokens_map.json" })
            File.Copy(Path.Combine(SharedData.FixtureModel(Bert), f), Path.Combine(modelDir, f));
        var lines = StsLines("train.tsv", 11).Select(l => l.Split('\t')[0]).Append("a zebra is running").ToList();
        var data = Write(dir, "sent.txt", lines);
        // A seed whose first batch does not contain the poisoned sentence, so a good step comes first.
        int seed = Enumerable.Range(1, 50).First(s => !TrainingData.Load(data, TrainingLosses.SimCse).Batches(4, s, 0)[0].Any(r => r.Texts[0].Contains("zebra")));
        var output = dir.Sub("out");
        var (code, stdout, err) = Train("--model", modelDir, "--data", data, "--loss", "simcse", "--output", output, "--batch-size", "4",
            "--eval-every", "1", "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--allow-nonfinite");
        Assert.NotEqual(0, code);
        Assert.Contains("the loss is NaN; training stopped", err);
        Assert.DoesNotContain("best_dev_spearman", stdout);
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(output, Trainer.LastDir, Trainer.StateFile)))!;
        long good = state["step"]!.GetValue<long>();
        Assert.True(good >= 1);
        Assert.Contains($"step {good + 1} ", err);
        var saved = TrainableTransformer.Load(Path.Combine(output, Trainer.LastDir), allowNonFinite: true);
        Assert.All(saved.Parameters.Where(p => p.Name != "embeddings.word_embeddings.weight"), p => Assert.DoesNotContain(p.Data, float.IsNaN));
    }
}
