// `semblance whiten fit`: fits BERT-whitening on a model's vectors of a corpus (or on a .npy) and saves it.
using System.Globalization;
using Semblance.Embeddings;
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
        Whitening w;
        if (fromVectors)
        {
            if (args.Has("--input") || args.Has("--pooling")) throw new UsageException("--input and --pooling need --model, not --vectors");
            var path = args.Get("--vectors")!;
            var m = Npy.ReadFloat32(path);
            if (m.Rows == 0) throw new InputFormatException($"{path}: no vectors ([0, {m.Columns}])");
            var acc = new WhiteningAccumulator(m.Columns, path);
            acc.Add(m.Data, m.Rows);
            w = acc.Fit(k);
        }
        else
        {
            var input = args.Require("--input");
            var options = EncoderArgs.Options(args) with { Normalize = false };
            var model = args.Get("--model")!;
            using var encoder = SentenceEncoder.Load(model, options);
            if (k > encoder.Dimension) throw new UsageException($"--dims {k} exceeds the model's dimension {encoder.Dimension}");
            var acc = new WhiteningAccumulator(encoder.Dimension, input == "-" ? "<stdin>" : input);
            var progress = new Progress(io, "sentences");
            foreach (var chunk in encoder.EncodeStream(io.ReadLines(input), progress: progress))
                acc.Add(chunk.Vectors.Span, chunk.Count);
            progress.Done();
            w = acc.Fit(k);
            w = new Whitening(w.Mean.ToArray(), w.Kernel.ToArray(), w.OutputDimension, w.Count, w.ExplainedVariance)
            {
                Encoder = model,
                Pooling = encoder.Backend.Pooling,
            };
        }
        w.Save(output);
        io.Out.WriteLine(string.Format(CultureInfo.InvariantCulture, "whitening: n={0} d={1} k={2} explained_variance={3:F4} -> {4}",
            w.Count, w.InputDimension, w.OutputDimension, w.ExplainedVariance, output));
        return 0;
    }
}
