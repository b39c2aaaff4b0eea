// `semblance quantize`: a model directory that loads at int8 by default, or with fp16/bf16 stored weights.
using Semblance.Embeddings;

namespace Semblance.Cli.Commands;

public sealed class QuantizeCommand : CliCommand
{
    public override string Name => "quantize";

    public override string Summary => "write a copy of a transformer model that loads at int8 (or with fp16/bf16 stored weights)";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        EncoderArgs.Model,
        new("--output", "DIR", "new model directory (must be new, empty, or an earlier semblance model with --force)"),
        new("--precision", "int8|fp16|bf16", "int8 (default): same weights, semblance_config.json asks for int8 at load; fp16/bf16: model.safetensors rewritten in that type"),
        new("--force", null, "replace an earlier semblance model directory at --output"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var format = args.Choice("--precision", "int8", ModelQuantizer.Formats);
        var output = args.Require("--output");
        var source = ModelDirectory.Open(args.Require("--model"));
        ModelQuantizer.Write(source, output, format, args.Has("--force"));
        io.Err.WriteLine($"wrote {output} ({format}) from {source.Path}");
        return 0;
    }
}
