// `semblance pair-score`: a cross-encoder's logits for text<TAB>text_pair lines, one JSON array per line, in input order.
using System.Text;
using Semblance.CrossEncoders;

namespace Semblance.Cli.Commands;

public sealed class PairScoreCommand : CliCommand
{
    private const int Chunk = 4096;

    public override string Name => "pair-score";

    public override string Summary => "score text<TAB>text_pair lines with a cross-encoder: one JSON array of logits per line";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--model", "DIR|ID", "cross-encoder: a BERT/RoFormer *ForSequenceClassification checkpoint"),
        new("--input", "FILE", "UTF-8 lines text<TAB>text_pair (a third column is ignored); - or absent = stdin"),
        new("--output", "FILE", "output file; - or absent = stdout"),
        new("--activation", "none|sigmoid|softmax", "applied to each pair's logits (default none: the raw logits)"),
        new("--max-length", "N", "tokens per pair incl. [CLS] and both [SEP]; longer pairs are truncated longest-first (default: the model's)"),
        EncoderArgs.BatchSize,
        EncoderArgs.Threads,
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var activation = args.Choice("--activation", "none", "none", "sigmoid", "softmax") switch
        {
            "sigmoid" => ScoreActivation.Sigmoid,
            "softmax" => ScoreActivation.Softmax,
            _ => ScoreActivation.None,
        };
        var input = args.Get("--input");
        using var model = CrossEncoder.Load(args.Require("--model"), ModelOptions(args));
        using var output = io.OpenOutput(args.Get("--output"));
        var chunk = new List<(string, string)>(Chunk);
        long line = 0;
        foreach (var text in io.ReadLines(input))
        {
            line++;
            chunk.Add(SplitPair(text, input, line));
            if (chunk.Count == Chunk) Flush();
        }
        Flush();
        output.Commit();
        return 0;

        void Flush()
        {
            if (chunk.Count == 0) return;
            var sb = new StringBuilder();
            foreach (var logits in model.Predict(chunk, activation))
            {
                sb.Clear();
                output.Writer.WriteLine(EncodeCommand.AppendJsonVector(sb, logits));
            }
            chunk.Clear();
        }
    }

    internal static CrossEncoderOptions ModelOptions(CommandArgs args) => new()
    {
        MaxLength = args.GetInt("--max-length", 0, 0, 1 << 20),
        BatchSize = args.GetInt("--batch-size", 32, 1, 1 << 16),
        Threads = args.GetInt("--threads", Environment.ProcessorCount, 1, 1024),
    };

    /// <summary>The first two tab-separated columns of a pair line; a missing second column names the line.</summary>
    internal static (string, string) SplitPair(string text, string? source, long line)
    {
        int tab = text.IndexOf('\t');
        if (tab < 0)
            throw new InputFormatException($"{source ?? "stdin"}:{line}: expected text<TAB>text_pair, found no tab");
        int end = text.IndexOf('\t', tab + 1);
        return (text[..tab], end < 0 ? text[(tab + 1)..] : text[(tab + 1)..end]);
    }
}
