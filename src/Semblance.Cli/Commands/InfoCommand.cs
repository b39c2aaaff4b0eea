// `semblance info`: what a model directory holds — architecture, sizes, tokenizer, pooling, parameters.
using Semblance.Embeddings;

namespace Semblance.Cli.Commands;

public sealed class InfoCommand : CliCommand
{
    public override string Name => "info";

    public override string Summary => "describe a model directory: architecture, sizes, tokenizer, pooling, parameter count";

    public override IReadOnlyList<OptionSpec> Options { get; } = [EncoderArgs.Model];

    public override int Execute(CommandArgs args, CliIO io)
    {
        using var encoder = SentenceEncoder.Load(args.Require("--model"), new EncoderOptions { Threads = 1 });
        var rows = encoder.Backend.Describe()
            .Prepend(new("source", encoder.Location?.Describe() ?? "(not recorded)"))
            .Append(new("pooling", encoder.Backend.Pooling))
            .Append(new("normalize", encoder.NormalizeByDefault ? "yes" : "no"))
            .Append(new("similarity", SimilarityFunctions.Name(encoder.SimilarityFunction)))
            .Append(new("dimension", encoder.Dimension.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            .Concat(encoder.Prompts.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new KeyValuePair<string, string>($"prompt.{p.Key}", System.Text.Json.JsonSerializer.Serialize(p.Value))))
            .ToList();
        int width = rows.Max(r => r.Key.Length);
        foreach (var (k, v) in rows) io.Out.WriteLine($"{(k + ":").PadRight(width + 1)} {v}");
        return 0;
    }
}
