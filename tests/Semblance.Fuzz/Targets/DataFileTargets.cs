// Targets for user data files: .npy vectors, TSV (STS and training data), text and JSONL input.
using System.Text;
using Semblance.Cli;
using Semblance.Evaluation;
using Semblance.IO;
using Semblance.Training;

namespace Semblance.Fuzz.Targets;

/// <summary>.npy → Npy.ReadFloat32 and Npy.ReadInt64.</summary>
public sealed class NpyTarget : FuzzTarget
{
    public override string Name => "npy";
    public override string Description => ".npy → Npy.ReadFloat32 / ReadInt64";

    public override IEnumerable<byte[]> Seeds() =>
    [
        Templates.Npy("<f4", "(3, 2)", Templates.Floats(1, 2, 3, 4, 5, 6)),
        Templates.Npy("<f8", "(2,)", new byte[16]),
        Templates.Npy("<i8", "(2, 1)", new byte[16]),
        Templates.Npy("<i4", "(0, 4)", []),
    ];

    public override void Execute(byte[] input, string work)
    {
        var path = Path.Combine(work, "x.npy");
        File.WriteAllBytes(path, input);
        bool isInt = input.AsSpan().IndexOf("'<i"u8) >= 0;
        if (isInt) GC.KeepAlive(Npy.ReadInt64(path));
        else GC.KeepAlive(Npy.ReadFloat32(path));
    }
}

/// <summary>Tab-separated files: STS (a, b, score) and the training data of every loss.</summary>
public sealed class TsvTarget : FuzzTarget
{
    public override string Name => "tsv";
    public override string Description => "TSV → StsDataset.Load and TrainingData.Load for every loss";

    public override IEnumerable<byte[]> Seeds() =>
    [
        "a man is eating\ta person eats\t4.5\nthe dog runs\tthe cat sleeps\t0.5\n"u8.ToArray(),
        "query one\tpositive one\tnegative one\nquery two\tpositive two\tnegative two\n"u8.ToArray(),
        "text a\tgroup1\ntext b\tgroup1\ntext c\tgroup2\n"u8.ToArray(),
        "one sentence\nanother sentence\n\n"u8.ToArray(),
    ];

    public override void Execute(byte[] input, string work)
    {
        var path = Path.Combine(work, "data.tsv");
        File.WriteAllBytes(path, input);
        int refused = 0;
        try { GC.KeepAlive(StsDataset.Load(path)); } catch (SemblanceException) { refused++; }
        var losses = TrainingLosses.All.Concat(TrainingLosses.PairScoring).ToList();
        foreach (var loss in losses)
            try { GC.KeepAlive(TrainingData.Load(path, loss, new PairLabels(MaxScore: 5, NumLabels: 3))); } catch (SemblanceException) { refused++; }
        if (refused == losses.Count + 1) throw new InputFormatException("refused by every reader");
    }
}

/// <summary>Text and JSONL item input of the index commands, through the CLI (the public entry point for JSONL).</summary>
public sealed class JsonlTarget : FuzzTarget
{
    public override string Name => "jsonl";
    public override string Description => "JSONL/text input → semblance index build --input (parsing up to the model)";

    public override IEnumerable<byte[]> Seeds() =>
    [
        "{\"id\": \"a\", \"text\": \"hello world\"}\n{\"id\": 7, \"text\": \"caf\u00e9\"}\n\n{\"text\": \"no id\"}\n"u8.ToArray(),
        "{\"text\": \"\\u00e9\\n\\t\"}\n"u8.ToArray(),
    ];

    public override void Execute(byte[] input, string work)
    {
        var path = Path.Combine(work, "items.jsonl");
        File.WriteAllBytes(path, input);
        foreach (var line in TextLines.ReadFile(path)) GC.KeepAlive(line);
        // The model does not exist: a run that gets past every line ends on that error, exit 1; a parser crash escapes.
        var err = new StringWriter();
        int code = CliApp.Run(["index", "build", "--output", Path.Combine(work, "idx"), "--input", path, "--model", Path.Combine(work, "no-model")],
            TextReader.Null, TextWriter.Null, err);
        var message = err.ToString();
        if (code != 1 || !message.StartsWith("error: ", StringComparison.Ordinal) || message.TrimEnd('\n').Contains('\n'))
            throw new InvalidOperationException($"expected exit 1 with a one-line error, got {code}: {message}");
        if (!message.Contains("no-model", StringComparison.Ordinal)) throw new InputFormatException(message);
    }
}
