// `semblance eval retrieval`: top-1/5/10 accuracy of finding each held-out sentence's group (text<TAB>group lines).
using System.Globalization;
using Semblance.Embeddings;
using Semblance.Evaluation;

namespace Semblance.Cli.Commands;

public sealed class EvalRetrievalCommand : CliCommand
{
    public override string Name => "eval retrieval";

    public override string Summary => "top-k accuracy of retrieving a sentence's group among held-out sentences (text<TAB>group per line)";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        EncoderArgs.Model,
        new("--data", "FILE.tsv", "held-out text<TAB>group lines; each sentence with a group member in the file is a query, all others its candidates"),
        new("-k", "K[,K...]", "accuracy at these k (default 1,5,10)"),
        EncoderArgs.Pooling,
        EncoderArgs.MaxLength,
        EncoderArgs.BatchSize,
        EncoderArgs.Threads,
        EncoderArgs.AllowNonFinite,
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var model = args.Require("--model");
        var path = args.Require("--data");
        var ks = args.GetList("-k").Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k > 0 ? k
            : throw new UsageException($"-k: '{s}' is not a positive integer")).ToList();
        var (texts, groups) = GroupRetrieval.Load(path);
        using var encoder = SentenceEncoder.Load(model, EncoderArgs.Options(args) with { Normalize = false });
        var result = GroupRetrieval.Evaluate(groups, encoder.EncodeFlat(texts), encoder.Dimension, ks.Count == 0 ? null : ks);
        io.Out.WriteLine($"queries={result.Queries} candidates={result.Candidates} groups={result.Groups} pooling={encoder.Backend.Pooling}");
        foreach (var (k, accuracy) in result.TopK)
            io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"top{k}={accuracy:F2}"));
        return 0;
    }
}
