// `semblance similarity`: the cosine between two texts under a model (optionally whitened).
using System.Globalization;
using System.Numerics.Tensors;
using Semblance.Embeddings;

namespace Semblance.Cli.Commands;

public sealed class SimilarityCommand : CliCommand
{
    public override string Name => "similarity";

    public override string Summary => "print the cosine similarity of two texts";

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
        int d = encoder.Dimension;
        var a = v.AsSpan(0, d);
        var b = v.AsSpan(d, d);
        float na = TensorPrimitives.Norm(a), nb = TensorPrimitives.Norm(b);
        double cos = na == 0 || nb == 0 ? 0 : TensorPrimitives.Dot(a, b) / ((double)na * nb);
        io.Out.WriteLine(cos.ToString("F6", CultureInfo.InvariantCulture));
        return 0;
    }
}
