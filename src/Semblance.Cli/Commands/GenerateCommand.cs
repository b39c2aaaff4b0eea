// `semblance generate`: SimBERT-style generation of a similar sentence for each input line, one JSON object per line.
using System.Text.Json;
using Semblance.Generation;

namespace Semblance.Cli.Commands;

public sealed class GenerateCommand : CliCommand
{
    public override string Name => "generate";

    public override string Summary => "generate a similar sentence per line with a UniLM masked-LM (SimBERT): {\"ids\",\"text\",\"stop\"} per line";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--model", "DIR|ID", "a BERT/RoFormer checkpoint with a masked-LM head (cls.predictions.*), trained seq2seq (SimBERT)"),
        new("--input", "FILE", "source sentences, one per line; - or absent = stdin"),
        new("--output", "FILE", "output file; - or absent = stdout"),
        new("--greedy", null, "greedy decoding: the most likely token at every step (the only decoding implemented so far)"),
        new("--max-new-tokens", "N", "stop after N tokens when no [SEP] came (default 24)"),
        EncoderArgs.Threads,
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        if (!args.Has("--greedy")) throw new UsageException("give --greedy (sampling and beam search are not implemented yet)");
        int maxNew = args.GetInt("--max-new-tokens", 24, 1, 1 << 16);
        using var model = MaskedLanguageModel.Load(args.Require("--model"), args.GetInt("--threads", Environment.ProcessorCount, 1, 1024));
        using var output = io.OpenOutput(args.Get("--output"));
        long line = 0;
        foreach (var source in io.ReadLines(args.Get("--input")))
        {
            line++;
            var g = model.GenerateGreedy(source, maxNew);
            if (g.SourceTruncated)
                io.Err.WriteLine($"note: line {line}: the source was truncated to leave room for {maxNew} new tokens within the model's {model.MaxPositions} positions");
            output.Writer.WriteLine(JsonSerializer.Serialize(new { ids = g.Ids, text = g.Text, stop = g.Stop == StopReason.Sep ? "sep" : "max_new_tokens" }));
        }
        output.Commit();
        return 0;
    }
}
