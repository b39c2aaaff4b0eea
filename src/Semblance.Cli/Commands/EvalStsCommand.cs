// `semblance eval sts`: Spearman/Pearson ×100 of cosine vs gold on an STS TSV, over a grid of pooling × whitening dims,
// or of a cross-encoder's pair score (--cross-encoder); for 0/1 sets, accuracy at the threshold chosen on a dev file.
using System.Globalization;
using Semblance.CrossEncoders;
using Semblance.Embeddings;
using Semblance.Embeddings.Default;
using Semblance.Evaluation;
using Semblance.IO;

namespace Semblance.Cli.Commands;

public sealed class EvalStsCommand : CliCommand
{
    public override string Name => "eval sts";

    public override string Summary => "score a model on an STS file (sentence1<TAB>sentence2<TAB>score): Spearman and Pearson x100";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        EncoderArgs.Model,
        new("--data", "FILE.tsv", "sentence1<TAB>sentence2<TAB>score per line"),
        new("--pooling", "P[,P...]", "pooling(s) to compare (default: the model's)"),
        new("--whitening", "none|fit|FILE", "none (default); fit on the evaluated sentences (both columns, duplicates kept), or on --whitening-fit; or a whitening file"),
        new("--whitening-fit", "FILE[,FILE...]", "with --whitening fit: fit on these files instead (e.g. the task's train,dev,test; a line with tabs gives its first two columns, other lines one sentence each)"),
        new("--dims", "K[,K...]", "whitened dimensions to keep, 0 = every direction with variance (default 0); needs --whitening fit or FILE"),
        new("--report", "FILE.html", "write the table and a gold-vs-cosine scatter of the first configuration"),
        new("--baseline", null, "for a semblance-lsa model, also score plain TF-IDF cosine with its vocabulary (no SVD)"),
        new("--cross-encoder", null, "the model is a cross-encoder: score each pair with it (the logit of a 1-label head, the last class's probability of a 2-label one) instead of a cosine"),
        new("--threshold-dev", "DEV.tsv", "0/1 labels: also report accuracy x100 on --data at the score threshold of best accuracy on DEV.tsv (scored the same way)"),
        EncoderArgs.MaxLength,
        EncoderArgs.BatchSize,
        EncoderArgs.Threads,
        EncoderArgs.Precision,
        EncoderArgs.AllowNonFinite,
        EncoderArgs.AttentionScale,
        EncoderArgs.TrainLength,
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var model = args.Require("--model");
        var dataPath = args.Require("--data");
        var poolings = args.GetList("--pooling");
        var dims = args.GetList("--dims").Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int k) ? k
            : throw new UsageException($"--dims: '{s}' is not a non-negative integer")).ToList();
        if (dims.Count == 0) dims.Add(0);
        var whiteningArg = args.Get("--whitening") ?? "none";
        if (whiteningArg == "none" && dims.Any(k => k != 0)) throw new UsageException("--dims needs --whitening fit or --whitening FILE");
        var data = StsDataset.Load(dataPath);
        var thresholdDev = args.Get("--threshold-dev") is { } devPath ? StsDataset.Load(devPath) : null;
        if (args.Has("--cross-encoder"))
            return CrossEncoderScores(args, io, model, data, thresholdDev);
        if (thresholdDev is not null && (whiteningArg != "none" || args.Has("--baseline")))
            throw new UsageException("--threshold-dev scores the dev file with the same encoder; it needs --whitening none and no --baseline");
        var whitening = StsWhitening.Parse(whiteningArg);
        var fitFiles = args.GetList("--whitening-fit");
        if (args.Has("--whitening-fit") && whitening != StsWhitening.Fit) throw new UsageException("--whitening-fit needs --whitening fit");
        var fitSentences = fitFiles.Count == 0 ? null : FitCorpus(fitFiles);
        var results = new List<StsResult>();
        var devScores = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var pooling in poolings.Count == 0 ? [null] : poolings.Cast<string?>())
        {
            var options = EncoderArgs.Options(args) with { Pooling = pooling, Normalize = false };
            using var encoder = SentenceEncoder.Load(model, options);
            var vectors = encoder.EncodeFlat(data.Sentences);
            var fit = fitSentences is null ? whitening
                : StsWhitening.FitOn("fit:" + string.Join("+", fitFiles.Select(Path.GetFileName)), encoder.EncodeFlat(fitSentences), fitSentences.Count);
            results.AddRange(StsEvaluator.Evaluate(data, vectors, encoder.Dimension, encoder.Backend.Pooling, fit, dims, note => io.Err.WriteLine("note: " + note)));
            if (thresholdDev is not null)
                devScores[encoder.Backend.Pooling] = StsEvaluator.Cosines(thresholdDev, encoder.EncodeFlat(thresholdDev.Sentences), encoder.Dimension);
            if (args.Has("--baseline") && results.All(r => r.Configuration.Pooling != "tfidf"))
            {
                if (encoder.Backend is not LsaBackend lsa)
                    throw new UsageException($"--baseline needs a {DefaultEncoder.ModelType} model; {model} is {encoder.Backend.ModelType}");
                results.Add(StsEvaluator.EvaluateTfIdf(data, lsa.TfIdf));
            }
        }
        if (results.Count == 0) throw new UsageException($"--dims: no configuration left to score (every --dims value exceeds the model's dimensions)");
        return Report(args, io, model, dataPath, data, results, thresholdDev, r => devScores[r.Configuration.Pooling]);
    }

    /// <summary>The table (with threshold accuracy when a dev file is given), the optional HTML report, and the script lines.</summary>
    private static int Report(CommandArgs args, CliIO io, string model, string dataPath, StsDataset data, List<StsResult> results,
        StsDataset? thresholdDev, Func<StsResult, double[]> devScores)
    {
        var accuracy = new Dictionary<StsResult, (ThresholdResult Dev, double Test)>();
        if (thresholdDev is not null)
        {
            var devLabels = ThresholdAccuracy.BinaryLabels(thresholdDev.Gold, thresholdDev.Source);
            var labels = ThresholdAccuracy.BinaryLabels(data.Gold, data.Source);
            foreach (var r in results)
            {
                var chosen = ThresholdAccuracy.Best(devScores(r), devLabels);
                accuracy[r] = (chosen, ThresholdAccuracy.At(r.Predicted, labels, chosen.Threshold));
            }
        }
        string Accuracy(StsResult r) => thresholdDev is null ? ""
            : $"  {accuracy[r].Dev.Threshold.ToString("G6", CultureInfo.InvariantCulture),10}  {StsReport.F2(accuracy[r].Dev.Accuracy),7}  {StsReport.F2(accuracy[r].Test),8}";
        int pw = Math.Max(7, results.Max(r => r.Configuration.Pooling.Length));
        int ww = Math.Max(9, results.Max(r => r.Configuration.Whitening.Length));
        io.Out.WriteLine($"{"pooling".PadRight(pw)}  {"whitening".PadRight(ww)}  {"dims",5}  {"spearman",8}  {"pearson",8}"
            + (thresholdDev is null ? "" : $"  {"threshold",10}  {"dev_acc",7}  {"accuracy",8}"));
        foreach (var r in results)
            io.Out.WriteLine($"{r.Configuration.Pooling.PadRight(pw)}  {r.Configuration.Whitening.PadRight(ww)}  {r.Configuration.Dims,5}  {StsReport.F2(r.Spearman),8}  {StsReport.F2(r.Pearson),8}{Accuracy(r)}");
        if (args.Get("--report") is { } report)
            AtomicFile.WriteAllText(report, StsReport.Html($"STS: {Path.GetFileName(model.TrimEnd('/'))} on {Path.GetFileName(dataPath)}", data, results));
        // Last line, for scripts: the best configuration and its Spearman.
        var best = results.MaxBy(r => double.IsNaN(r.Spearman) ? double.NegativeInfinity : r.Spearman)!;
        io.Out.WriteLine($"best: pooling={best.Configuration.Pooling} whitening={best.Configuration.Whitening} dims={best.Configuration.Dims}");
        if (thresholdDev is not null)
            io.Out.WriteLine($"threshold={accuracy[best].Dev.Threshold.ToString("R", CultureInfo.InvariantCulture)} dev_accuracy={StsReport.F2(accuracy[best].Dev.Accuracy)} accuracy={StsReport.F2(accuracy[best].Test)}");
        io.Out.WriteLine($"spearman={StsReport.F2(best.Spearman)}");
        return 0;
    }

    /// <summary>--cross-encoder: one configuration, the model's pair score (raw logit, or positive-class probability).</summary>
    private static int CrossEncoderScores(CommandArgs args, CliIO io, string model, StsDataset data, StsDataset? thresholdDev)
    {
        foreach (var option in new[] { "--pooling", "--whitening", "--whitening-fit", "--dims", "--baseline", "--precision", "--attention-scale", "--train-length" })
            if (args.Has(option)) throw new UsageException($"{option} applies to sentence encoders, not to --cross-encoder");
        using var encoder = CrossEncoder.Load(model, PairScoreCommand.ModelOptions(args));
        double[] Scores(StsDataset set) =>
            Array.ConvertAll(encoder.Score(set.Pairs.Select(p => (p.Sentence1, p.Sentence2)).ToArray(), raw: true), x => (double)x);
        var predicted = Scores(data);
        var gold = data.Gold;
        var result = new StsResult(new StsConfiguration("cross-encoder", "none", 0),
            100 * Correlation.Spearman(predicted, gold), 100 * Correlation.Pearson(predicted, gold), predicted);
        var devScores = thresholdDev is null ? null : Scores(thresholdDev);
        return Report(args, io, model, args.Require("--data"), data, [result], thresholdDev, _ => devScores!);
    }

    /// <summary>The sentences of --whitening-fit: sentence1 and sentence2 of tab-separated (STS) lines, other lines whole; duplicates kept.</summary>
    private static List<string> FitCorpus(IReadOnlyList<string> files)
    {
        var sentences = new List<string>();
        foreach (var file in files)
        {
            foreach (var line in TextLines.ReadFile(file))
            {
                if (line.Trim().Length == 0) continue;
                var fields = line.Split('\t');
                if (fields.Length == 1) sentences.Add(line);
                else sentences.AddRange(fields.Take(2));
            }
        }
        if (sentences.Count < 2) throw new InputFormatException($"--whitening-fit {string.Join(",", files)}: {sentences.Count} sentence(s); whitening needs at least 2");
        return sentences;
    }
}
