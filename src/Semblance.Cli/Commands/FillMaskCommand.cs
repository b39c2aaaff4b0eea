// `semblance fill-mask`: Hugging Face's fill-mask pipeline over input lines: per line, per [MASK], the top-k tokens.
using System.Text.Json;
using Semblance.Generation;

namespace Semblance.Cli.Commands;

public sealed class FillMaskCommand : CliCommand
{
    public override string Name => "fill-mask";

    public override string Summary => "predict every [MASK] of each line: one JSON array per line of {\"position\",\"ids\",\"scores\",\"tokens\"}";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--model", "DIR|ID", "a BERT/RoFormer checkpoint with a masked-LM head (cls.predictions.*)"),
        new("--input", "FILE", "UTF-8 text, one item per line, with [MASK] where a token is to be predicted; - or absent = stdin"),
        new("--output", "FILE", "output file; - or absent = stdout"),
        new("--top-k", "K", "candidates per [MASK] (default 5)"),
        EncoderArgs.Threads,
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        int k = args.GetInt("--top-k", 5, 1, 1 << 20);
        using var model = MaskedLanguageModel.Load(args.Require("--model"), args.GetInt("--threads", Environment.ProcessorCount, 1, 1024));
        using var output = io.OpenOutput(args.Get("--output"));
        foreach (var line in io.ReadLines(args.Get("--input")))
        {
            var predictions = model.FillMask(line, k);
            foreach (var p in predictions)
                foreach (var s in p.Scores)
                    if (!float.IsFinite(s)) throw new SemblanceException("the model produced a non-finite probability; its weights are damaged");
            output.Writer.WriteLine(JsonSerializer.Serialize(predictions.Select(p => new { position = p.Position, ids = p.Ids, scores = p.Scores, tokens = p.Tokens })));
        }
        output.Commit();
        return 0;
    }
}
