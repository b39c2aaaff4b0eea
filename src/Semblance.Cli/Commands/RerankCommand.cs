// `semblance rerank`: order candidate texts by a cross-encoder's relevance to a query, best first, as JSON lines.
using System.Globalization;
using System.Text.Json;
using Semblance.CrossEncoders;

namespace Semblance.Cli.Commands;

public sealed class RerankCommand : CliCommand
{
    public override string Name => "rerank";

    public override string Summary => "rank candidate lines by a cross-encoder's relevance to --query: {\"index\",\"score\",\"text\"} per line, best first";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--model", "DIR|ID", "cross-encoder: a BERT/RoFormer *ForSequenceClassification checkpoint"),
        new("--query", "TEXT", "the query"),
        new("--input", "FILE", "candidates, one per line; - or absent = stdin"),
        new("-k", "K", "print only the best K (default: all)"),
        new("--raw-scores", null, "one-label models: the raw logit instead of its sigmoid (as TEI's raw_scores)"),
        new("--max-length", "N", "tokens per pair incl. [CLS] and both [SEP] (default: the model's)"),
        EncoderArgs.BatchSize,
        EncoderArgs.Threads,
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var query = args.Require("--query");
        int? k = args.Has("-k") ? args.GetInt("-k", 10, 1) : null;
        var input = args.Get("--input");
        var candidates = io.ReadLines(input).ToList();
        if (candidates.Count == 0) throw new InputFormatException($"{input ?? "stdin"}: no candidates to rank (expected one per line)");
        using var model = CrossEncoder.Load(args.Require("--model"), PairScoreCommand.ModelOptions(args));
        foreach (var r in model.Rank(query, candidates, k, args.Has("--raw-scores")))
        {
            if (!float.IsFinite(r.Score)) throw new SemblanceException($"the model produced a non-finite score for candidate {r.Index}; its weights are damaged");
            io.Out.WriteLine($"{{\"index\":{r.Index},\"score\":{r.Score.ToString("R", CultureInfo.InvariantCulture)},\"text\":{JsonSerializer.Serialize(r.Text)}}}");
        }
        return 0;
    }
}
