// `semblance eval sts`: Spearman/Pearson ×100 of cosine vs gold on an STS TSV, over a grid of pooling × whitening dims.
using System.Globalization;
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
        var whitening = StsWhitening.Parse(whiteningArg);
        var fitFiles = args.GetList("--whitening-fit");
        if (args.Has("--whitening-fit") && whitening != StsWhitening.Fit) throw new UsageException("--whitening-fit needs --whitening fit");
        var fitSentences = fitFiles.Count == 0 ? null : FitCorpus(fitFiles);
        var results = new List<StsResult>();
        foreach (var pooling in poolings.Count == 0 ? [null] : poolings.Cast<string?>())
        {
            var options = EncoderArgs.Options(args) with { Pooling = pooling, Normalize = false };
            using var encoder = SentenceEncoder.Load(model, options);
            var vectors = encoder.EncodeFlat(data.Sentences);
            var fit = fitSentences is null ? whitening
                : StsWhitening.FitOn("fit:" + string.Join("+", fitFiles.Select(Path.GetFileName)), encoder.EncodeFlat(fitSentences), fitSentences.Count);
            results.AddRange(StsEvaluator.Evaluate(data, vectors, encoder.Dimension, encoder.Backend.Pooling, fit, dims, note => io.Err.WriteLine("note: " + note)));
            if (args.Has("--baseline") && results.All(r => r.Configuration.Pooling != "tfidf"))
            {
                if (encoder.Backend is not LsaBackend lsa)
                    throw new UsageException($"--baseline needs a {DefaultEncoder.ModelType} model; {model} is {encoder.Backend.ModelType}");
                results.Add(StsEvaluator.EvaluateTfIdf(data, lsa.TfIdf));
            }
        }
        if (results.Count == 0) throw new UsageException($"--dims: no configuration left to score (every --dims value exceeds the model's dimensions)");
        int pw = Math.Max(7, results.Max(r => r.Configuration.Pooling.Length));
        int ww = Math.Max(9, results.Max(r => r.Configuration.Whitening.Length));
        io.Out.WriteLine($"{"pooling".PadRight(pw)}  {"whitening".PadRight(ww)}  {"dims",5}  {"spearman",8}  {"pearson",8}");
        foreach (var r in results)
            io.Out.WriteLine($"{r.Configuration.Pooling.PadRight(pw)}  {r.Configuration.Whitening.PadRight(ww)}  {r.Configuration.Dims,5}  {StsReport.F2(r.Spearman),8}  {StsReport.F2(r.Pearson),8}");
        if (args.Get("--report") is { } report)
            AtomicFile.WriteAllText(report, StsReport.Html($"STS: {Path.GetFileName(model.TrimEnd('/'))} on {Path.GetFileName(dataPath)}", data, results));
        // Last line, for scripts: the best configuration and its Spearman.
        var best = results.MaxBy(r => double.IsNaN(r.Spearman) ? double.NegativeInfinity : r.Spearman)!;
        io.Out.WriteLine($"best: pooling={best.Configuration.Pooling} whitening={best.Configuration.Whitening} dims={best.Configuration.Dims}");
        io.Out.WriteLine($"spearman={StsReport.F2(best.Spearman)}");
        return 0;
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
