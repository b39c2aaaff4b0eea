// `semblance whiten fit`: fits BERT-whitening on a model's vectors of a corpus (or on a .npy) and saves it.
using System.Globalization;
using Semblance.Embeddings;
using Semblance.Evaluation;
using Semblance.IO;

namespace Semblance.Cli.Commands;

public sealed class WhitenFitCommand : CliCommand
{
    public override string Name => "whiten fit";

    public override string Summary => "fit a whitening transform (Su et al. 2021) on encoded text or on vectors";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        EncoderArgs.Model,
        new("--input", "FILE", "UTF-8 text, one sentence per line, encoded with --model; - = stdin"),
        new("--vectors", "X.npy", "fit on these float32 [n, d] vectors instead of encoding text"),
        EncoderArgs.Pooling,
        new("--dims", "K", "keep the K directions of largest variance (default 0 = every direction with variance)"),
        new("--output", "FILE", "whitening file to write (safetensors)"),
        new("--eval-data", "FILE.tsv", "with --model: advise the smallest dims whose Spearman on this STS file is within 0.5 of all dims (else the eigenvalue-energy curve)"),
        EncoderArgs.MaxLength,
        EncoderArgs.BatchSize,
        EncoderArgs.Threads,
        EncoderArgs.AllowNonFinite,
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var output = args.Require("--output");
        int k = args.GetInt("--dims", 0, 0);
        bool fromVectors = args.Has("--vectors");
        if (fromVectors == args.Has("--model")) throw new UsageException("give either --model DIR --input FILE or --vectors X.npy");
        var evalData = args.Get("--eval-data") is { } evalPath && !fromVectors ? StsDataset.Load(evalPath) : null;
        SentenceEncoder? encoderForEval = null;
        try
        {
            Fit(args, io, output, k, fromVectors, evalData, ref encoderForEval);
        }
        finally
        {
            encoderForEval?.Dispose();
        }
        return 0;
    }

    private static void Fit(CommandArgs args, CliIO io, string output, int k, bool fromVectors, StsDataset? evalData, ref SentenceEncoder? evalEncoder)
    {
        Whitening w;
        WhiteningAccumulator accumulator;
        if (fromVectors)
        {
            if (args.Has("--input") || args.Has("--pooling") || args.Has("--eval-data")) throw new UsageException("--input, --pooling and --eval-data need --model, not --vectors");
            var path = args.Get("--vectors")!;
            var m = Npy.ReadFloat32(path);
            if (m.Rows == 0) throw new InputFormatException($"{path}: no vectors ([0, {m.Columns}])");
            var acc = new WhiteningAccumulator(m.Columns, path);
            acc.Add(m.Data, m.Rows);
            w = acc.Fit(k);
            accumulator = acc;
        }
        else
        {
            var input = args.Require("--input");
            var options = EncoderArgs.Options(args) with { Normalize = false };
            var model = args.Get("--model")!;
            var encoder = evalEncoder = SentenceEncoder.Load(model, options);
            if (k > encoder.Dimension) throw new UsageException($"--dims {k} exceeds the model's dimension {encoder.Dimension}");
            var acc = new WhiteningAccumulator(encoder.Dimension, input == "-" ? "<stdin>" : input);
            var progress = new Progress(io, "sentences");
            foreach (var chunk in encoder.EncodeStream(io.ReadLines(input), progress: progress))
                acc.Add(chunk.Vectors.Span, chunk.Count);
            progress.Done();
            w = acc.Fit(k);
            accumulator = acc;
            w = new Whitening(w.Mean.ToArray(), w.Kernel.ToArray(), w.OutputDimension, w.Count, w.ExplainedVariance)
            {
                Encoder = model,
                Pooling = encoder.Backend.Pooling,
            };
        }
        w.Save(output);
        io.Out.WriteLine(string.Format(CultureInfo.InvariantCulture, "whitening: n={0} d={1} k={2} explained_variance={3:F4} -> {4}",
            w.Count, w.InputDimension, w.OutputDimension, w.ExplainedVariance, output));
        Advise(accumulator.Fit(0), evalData is null ? null : (evalData, evalEncoder!), io);
    }

    /// <summary>The dimension advice (<see cref="WhiteningAdvisor"/>), one "advice:" line per candidate, then the advice.</summary>
    private static void Advise(Whitening full, (StsDataset Data, SentenceEncoder Encoder)? eval, CliIO io)
    {
        if (eval is var (data, encoder))
        {
            var (curve, advice) = WhiteningAdvisor.SpearmanCurve(full, data, encoder.EncodeFlat(data.Sentences), encoder.Backend.Pooling);
            io.Out.WriteLine("advice: dims  energy  spearman");
            foreach (var p in curve) io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"advice: {p.Dims,4}  {p.Energy:F4}  {StsReport.F2(p.Spearman),8}"));
            io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"advice: dims={advice} (the smallest candidate within {WhiteningAdvisor.Tolerance} Spearman points of all {full.OutputDimension} on {Path.GetFileName(data.Source)})"));
        }
        else
        {
            var curve = WhiteningAdvisor.EnergyCurve(full);
            io.Out.WriteLine("advice: dims  energy");
            foreach (var p in curve) io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"advice: {p.Dims,4}  {p.Energy:F4}"));
            io.Out.WriteLine("advice: " + string.Join(", ", WhiteningAdvisor.EnergyLevels.Select(level =>
                string.Create(CultureInfo.InvariantCulture, $"{level * 100:F0}% of the variance in dims={WhiteningAdvisor.SmallestForEnergy(curve, level)}")))
                + " (no --eval-data: energy = share of the eigenvalue sum kept)");
        }
    }
}
