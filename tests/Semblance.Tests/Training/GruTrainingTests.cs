// `semblance train --init gru.json`: the checkpoint loads in encode unchanged, resume is exact, bad configs and resumes are one-line errors.
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Numerics;
using Semblance.Tests.Cli;
using Semblance.Tests.Models;
using Semblance.Training;
using Semblance.Training.Autodiff;

namespace Semblance.Tests.Training;

public class GruTrainingTests
{
    private static readonly string[] Colours = ["red", "blue", "green", "black", "white", "yellow", "brown", "pink"];
    private static readonly string[] Things = ["car", "dog", "house", "cat", "boat", "tree", "bird", "door"];

    private static string Vocab => Path.Combine(SharedData.FixtureModel("bert-tiny-uncased"), "vocab.txt");

    /// <summary>Eight groups of three paraphrases ("a red car", "the car is red", ...): text&lt;TAB&gt;group.</summary>
    private static string WriteGroups(TempDir dir)
    {
        var lines = new List<string>();
        for (int g = 0; g < 8; g++)
        {
            string c = Colours[g], t = Things[(g * 3) % 8];
            lines.AddRange([$"a {c} {t}\tg{g}", $"the {t} is {c}\tg{g}", $"this {t} looks {c} today\tg{g}"]);
        }
        var path = dir.File("groups.tsv");
        File.WriteAllLines(path, lines);
        return path;
    }

    private static string WriteConfig(TempDir dir, int hidden = 8, string name = "gru.json")
    {
        var path = dir.File(name);
        File.WriteAllText(path, new GruConfig { VocabSize = 30522, EmbeddingSize = 8, HiddenSize = hidden, MaxLength = 32 }.ToJson());
        return path;
    }

    private static (int Code, string Out, string Err) Train(params string[] args) => CliAppTests.Run(["train", .. args]);

    [SharedFact]
    public void TrainedCheckpointEncodesAsTheTrainingForwardDoes()
    {
        using var dir = new TempDir();
        var output = dir.Sub("out");
        var (code, stdout, err) = Train("--init", WriteConfig(dir), "--vocab", Vocab, "--data", WriteGroups(dir), "--loss", "am-softmax",
            "--output", output, "--batch-size", "8", "--lr", "1e-2", "--scale", "30", "--margin", "0.35", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("2 steps", err);
        Assert.StartsWith($"trained: {output} holds the final weights", stdout.TrimEnd().Split('\n')[^1]);
        foreach (var f in new[] { "config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json" }) Assert.True(File.Exists(Path.Combine(output, f)), f);
        Assert.Equal(GruConfig.ModelTypeName, BackendRegistry.ReadModelType(output));

        // The same weights through the tape (training forward) and through `encode`'s backend.
        var trained = TrainableGru.Load(output);
        var initial = TrainableGru.Initialize(GruConfig.Load(dir.File("gru.json")), 42);
        Assert.NotEqual(initial.Parameters[1].Data, trained.Parameters[1].Data);
        string[] texts = ["a red car", "the dog is blue", "an unseen sentence about a green tree"];
        var tokenizer = Semblance.Text.BertTokenizer.Load(output);
        var expected = trained.Encode(new Tape(recording: false), TokenBatch.FromSequences(texts.Select(t => tokenizer.Encode(t, 32).Ids).ToList()), PoolingMode.Mean).Data;
        using (var encoder = SentenceEncoder.Load(output, new EncoderOptions { Threads = 2, Normalize = false }))
        {
            Assert.Equal(16, encoder.Dimension);
            var actual = encoder.EncodeFlat(texts);
            for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f, $"element {i}: {expected[i]} vs {actual[i]}");
        }
        var (encodeCode, _, encodeErr) = CliAppTests.RunWithInput("a red car\nthe dog is blue\n", "encode", "--model", output, "--format", "npy", "--output", dir.File("v.npy"));
        Assert.True(encodeCode == 0, encodeErr);
        Assert.Equal(32, Semblance.IO.Npy.ReadFloat32(dir.File("v.npy")).Data.Length);
    }

    [SharedFact]
    public void ResumedGruRunEndsWithTheSameWeightsAsAnUninterruptedOne()
    {
        using var dir = new TempDir();
        var config = WriteConfig(dir);
        var data = WriteGroups(dir);
        TrainerOptions Options(string output) => new()
        {
            Loss = TrainingLosses.AmSoftmax, DataPath = data, OutputDir = output, InitConfig = config, VocabPath = Vocab, Epochs = 2, BatchSize = 8,
            LearningRate = 1e-2, WarmupSteps = 1, Scale = 30, Margin = 0.35f, Threads = 1,
        };
        var straight = dir.Sub("straight");
        Assert.Equal(4, new Trainer(Options(straight), TextWriter.Null).Run().Steps);
        var resumed = dir.Sub("resumed");
        Assert.True(new Trainer(Options(resumed) with { StopAfterSteps = 1 }, TextWriter.Null).Run().Stopped);
        var (code, _, err) = Train("--init", config, "--vocab", Vocab, "--data", data, "--loss", "am-softmax", "--output", resumed, "--epochs", "2",
            "--batch-size", "8", "--lr", "1e-2", "--warmup", "1", "--scale", "30", "--margin", "0.35", "--threads", "1", "--resume", resumed);
        Assert.True(code == 0, err);
        Assert.Contains("resuming at step 1", err);
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(resumed, "model.safetensors")));

        // Resuming without --init/--model takes the architecture from the checkpoint itself.
        var more = Train("--data", data, "--loss", "am-softmax", "--output", resumed, "--epochs", "3", "--batch-size", "8", "--threads", "1", "--resume", resumed);
        Assert.True(more.Code == 0, more.Err);
        Assert.Contains("resuming at step 4", more.Err);
    }

    [SharedFact]
    public void ResumeRefusesACheckpointOfAnotherArchitecture()
    {
        using var dir = new TempDir();
        var data = WriteGroups(dir);
        var output = dir.Sub("out");
        Assert.Equal(0, Train("--init", WriteConfig(dir), "--vocab", Vocab, "--data", data, "--loss", "am-softmax", "--output", output, "--batch-size", "8").Code);

        var (code, _, err) = Train("--model", SharedData.FixtureModel("bert-tiny-uncased"), "--data", data, "--loss", "am-softmax", "--output", output, "--resume", output);
        Assert.NotEqual(0, code);
        Assert.Contains("the checkpoint is semblance-gru (embedding 8, hidden 8 per direction, vocab 30522), but the model given is bert", err);
        Assert.Single(err.Trim().Split('\n'));

        var wider = Train("--init", WriteConfig(dir, hidden: 12, name: "wider.json"), "--vocab", Vocab, "--data", data, "--loss", "am-softmax", "--output", output, "--resume", output);
        Assert.NotEqual(0, wider.Code);
        Assert.Contains("but the model given is semblance-gru (embedding 8, hidden 12 per direction", wider.Err);
    }

    [SharedFact]
    public void BadInitConfigIsAOneLineErrorNamingTheField()
    {
        using var dir = new TempDir();
        var config = dir.File("gru.json");
        File.WriteAllText(config, "{\"model_type\": \"semblance-gru\", \"vocab_size\": 30522, \"embedding_size\": 8, \"hidden_size\": 0}");
        var (code, _, err) = Train("--init", config, "--vocab", Vocab, "--data", WriteGroups(dir), "--loss", "am-softmax", "--output", dir.Sub("out"));
        Assert.NotEqual(0, code);
        Assert.Contains($"{config}: hidden_size must be a positive integer, got 0", err);
        Assert.Single(err.Trim().Split('\n'));

        File.WriteAllText(config, new GruConfig { VocabSize = 1000, EmbeddingSize = 8, HiddenSize = 8 }.ToJson());
        var small = Train("--init", config, "--vocab", Vocab, "--data", WriteGroups(dir), "--loss", "am-softmax", "--output", dir.Sub("out2"));
        Assert.NotEqual(0, small.Code);
        Assert.Contains("30522 tokens, more than vocab_size 1000", small.Err);
    }

    [SharedTheory]
    [InlineData("simcse")]
    [InlineData("flatnce")]
    public void DropoutLossesAreRefusedForTheGru(string loss)
    {
        using var dir = new TempDir();
        var config = dir.File("gru.json");
        File.WriteAllText(config, new GruConfig { VocabSize = 30522, EmbeddingSize = 8, HiddenSize = 8 }.ToJson());
        var data = dir.File("sentences.txt");
        File.WriteAllLines(data, ["a man is playing a guitar", "a woman slices an onion", "two dogs run on the beach"]);
        var output = dir.Sub("out");
        var (code, _, err) = Train("--init", config, "--vocab", Vocab, "--data", data, "--loss", loss, "--output", output);
        Assert.Equal(1, code);
        Assert.Contains($"--loss {loss} needs dropout to make two views of a sentence, and the GRU encoder has none", err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any());
    }
}
