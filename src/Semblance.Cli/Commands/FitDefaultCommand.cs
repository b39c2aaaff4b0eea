// `semblance fit-default`: fits the default encoder (TF-IDF → LSA → whitening) on the user's own text.
using System.Globalization;
using Semblance.Embeddings.Default;

namespace Semblance.Cli.Commands;

public sealed class FitDefaultCommand : CliCommand
{
    public override string Name => "fit-default";

    public override string Summary => "fit the default encoder (no download) on a text corpus and save it as a model directory";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--input", "FILE", "UTF-8 text, one sentence per line; - = stdin"),
        new("--output", "DIR", "model directory to write (created if missing)"),
        new("--dims", "K", "embedding dimension (default 256; capped at lines/4 and the vocabulary size)"),
        new("--seed", "N", "random seed of the SVD (default 0)"),
        new("--min-df", "N", "keep features seen in at least N lines (default 2)"),
        new("--max-features", "N", "vocabulary cap, most frequent first (default 32768)"),
        new("--no-whiten", null, "keep plain LSA vectors (no whitening stage)"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var input = args.Require("--input");
        var output = args.Require("--output");
        var defaults = new DefaultEncoderOptions();
        var options = defaults with
        {
            Dimension = args.GetInt("--dims", defaults.Dimension, 1, 4096),
            Seed = args.GetInt("--seed", 0),
            MinDf = args.GetInt("--min-df", defaults.MinDf, 1),
            MaxFeatures = args.GetInt("--max-features", defaults.MaxFeatures, 2, 1 << 22),
            Whiten = !args.Has("--no-whiten"),
        };
        var lines = io.ReadLines(input).ToList();
        var r = DefaultEncoder.Fit(lines, output, options, input == "-" ? "<stdin>" : input);
        var inv = CultureInfo.InvariantCulture;

        var capped = r.Dimension < r.RequestedDimension ? string.Format(inv, " (asked {0}; capped at lines/4 and the vocabulary)", r.RequestedDimension) : "";
        io.Out.WriteLine(string.Format(inv,
            "fitted {0}: {1} lines, vocabulary {2}, {3} non-zeros, dims {4}{5}, {6}; features {7:F2}s, svd {8:F2}s, whitening {9:F2}s, total {10:F2}s -> {11}",
            DefaultEncoder.ModelType, r.Lines, r.Vocabulary, r.NonZeros, r.Dimension, capped, double.IsNaN(r.ExplainedVariance) ? "no whitening" : "whitened",
            r.Features.TotalSeconds, r.Svd.TotalSeconds, r.Whitening.TotalSeconds, r.Total.TotalSeconds, output));
        return 0;
    }
}
