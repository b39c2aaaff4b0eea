// `semblance similarity`: the similarity of two texts under a model (optionally whitened), as the model declares it.
using System.Globalization;
using Semblance.Embeddings;

namespace Semblance.Cli.Commands;

public sealed class SimilarityCommand : CliCommand
{
    public override string Name => "similarity";

    public override string Summary => "print the similarity of two texts (cosine, or the dot/euclidean/manhattan the model declares)";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        .. EncoderArgs.Common,
        new("--whitening", "FILE", "apply a whitening file (from `semblance whiten fit`) before the cosine"),
    ];

    public override string? Positionals => "\"text a\" \"text b\"";

    public override int MinPositionals => 2;

    public override int MaxPositionals => 2;

    public override int Execute(CommandArgs args, CliIO io)
    {
        using var encoder = EncoderArgs.Load(args);
        if (args.Get("--whitening") is { } path) encoder.UseWhitening(path);
        var v = encoder.Encode([args.Positionals[0], args.Positionals[1]]);
        float score = SimilarityFunctions.Score(encoder.SimilarityFunction, v[0], v[1]);
        io.Out.WriteLine(score.ToString("F6", CultureInfo.InvariantCulture));
        return 0;
    }
}
