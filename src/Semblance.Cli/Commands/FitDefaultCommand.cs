// `semblance fit-default`: fits the default encoder ([boosted LSA ; hashed TF-IDF residual]) on the user's own text.
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
        new("--output", "DIR", "model directory to write (new or empty; a model semblance wrote only with --force)"),
        new("--force", null, "replace the model already in --output"),
        new("--dims", "K", "embedding dimension, LSA + hashed TF-IDF residual (default 1024)"),
        new("--lsa-dims", "K", "of which LSA (default 512, at most dims/2; capped at lines/4, the rest is hashed; 0 = hashing only)"),
        new("--boost", "B", "weight of the LSA similarity added to the TF-IDF one (default 0.05; 0 = TF-IDF only)"),
        new("--exponent", "P", "LSA direction j boosted by (s_m/s_j)^(2(1-P)): 1 = plain LSA, 0 = equal weights (default 0)"),
        new("--drop-top", "M", "the M largest LSA directions get no boost (default 2)"),
        new("--weighting", "W", "term weights: sif (default) or idf"),
        new("--seed", "N", "random seed of the SVD and the hash (default 0)"),
        new("--power-iterations", "Q", "subspace iterations of the randomized SVD (default 1; more = closer to the exact top directions)"),
        new("--min-df", "N", "keep features seen in at least N lines (default 2)"),
        new("--max-features", "N", "vocabulary cap, most frequent first (default 32768)"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var input = args.Require("--input");
        var output = args.Require("--output");
        bool force = args.Has("--force");
        DefaultEncoder.ClaimOutput(output, force, checkOnly: true);
        var defaults = new DefaultEncoderOptions();
        int dims = args.GetInt("--dims", defaults.Dimension, 2, 65536);
        var options = defaults with
        {
            Dimension = dims,
            LsaDimension = args.GetInt("--lsa-dims", Math.Min(defaults.LsaDimension, dims / 2), 0, dims - 1),
            Boost = args.GetDouble("--boost", defaults.Boost, 0, 100),
            SpectralExponent = args.GetDouble("--exponent", defaults.SpectralExponent, 0, 1),
            DropTop = args.GetInt("--drop-top", defaults.DropTop, 0, 64),
            Weighting = (args.Get("--weighting") ?? "sif") switch
            {
                "idf" => TermWeighting.Idf,
                "sif" => TermWeighting.Sif,
                var w => throw new UsageException($"--weighting {w}: expected idf or sif"),
            },
            Seed = args.GetInt("--seed", 0),
            PowerIterations = args.GetInt("--power-iterations", defaults.PowerIterations, 1, 10),
            MinDf = args.GetInt("--min-df", defaults.MinDf, 1),
            MaxFeatures = args.GetInt("--max-features", defaults.MaxFeatures, 2, 1 << 22),
        };
        var lines = io.ReadLines(input).ToList();
        DefaultEncoder.ClaimOutput(output, force);
        var r = DefaultEncoder.Fit(lines, output, options, input == "-" ? "<stdin>" : input);
        var inv = CultureInfo.InvariantCulture;

        var capped = r.LsaDimension < r.RequestedLsaDimension
            ? string.Format(inv, " (asked {0}; capped at lines/4 and the vocabulary)", r.RequestedLsaDimension) : "";
        io.Out.WriteLine(string.Format(inv,
            "fitted {0}: {1} lines, vocabulary {2}, {3} non-zeros, dims {4} = lsa {5}{6} + hash {7}; features {8:F2}s, svd {9:F2}s, total {10:F2}s -> {11}",
            DefaultEncoder.ModelType, r.Lines, r.Vocabulary, r.NonZeros, r.Dimension, r.LsaDimension, capped, r.HashDimension,
            r.Features.TotalSeconds, r.Svd.TotalSeconds, r.Total.TotalSeconds, output));
        return 0;
    }
}
