// `semblance index build`: creates a new index directory from text (encoded) or .npy vectors.
using Semblance.Embeddings;
using Semblance.Search;

namespace Semblance.Cli.Commands;

public sealed class IndexBuildCommand : CliCommand
{
    public override string Name => "index build";

    public override string Summary => "build a vector index (flat, flat-int8, flat-f16 or hnsw) from text or .npy vectors, or a CUR cross-encoder index (cur) from text";

    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("--output", "IDX", "index directory to create (new or empty; an existing index only with --force)"),
        new("--force", null, "replace the index already in --output (never writes into a directory semblance did not create)"),
        .. IndexInput.Options,
        new("--kind", "KIND", "flat|flat-int8|flat-f16|hnsw|cur (default flat; cur: --model is a cross-encoder, see the --anchor-* options)"),
        new("--metric", "METRIC", "ip|cosine|l2 (default cosine; l2 scores are squared distances, smaller is better)"),
        new("--hnsw-m", "M", "HNSW links per node (default 16)"),
        new("--ef-construction", "E", "HNSW candidate list while building (default 200)"),
        new("--seed", "N", "HNSW level-generation seed; cur: anchor sample seed (default 42)"),
        new("--query-prompt", "TEXT", "with --input: text put before every query, recorded in the index (default: the model's \"query\" prompt, if it has one)"),
        new("--anchor-queries", "FILE", "cur: training queries, one per line (keep them apart from test queries); R = CE(anchor queries × items) is stored"),
        new("--anchor-query-count", "N", "cur: use a seeded sample of N lines of --anchor-queries (default all)"),
        new("--anchor-items", "N", "cur: anchor items k_i; a query costs k_i + --rerank-depth cross-encoder calls (default min(100, items))"),
        new("--anchor-selection", "SEL", "cur: random|bi-encoder (bi-encoder: the items --bi-encoder retrieves for the anchor queries; default random)"),
        new("--bi-encoder", "DIR", "cur with --anchor-selection bi-encoder: the sentence encoder that seeds the anchor items"),
        new("--max-length", "N", "cur: tokens per query-item pair (default: the cross-encoder's max length); searches use the same"),
        new("--pinv-cutoff", "X", "cur: singular values of A at or below X × the largest are dropped from pinv(A) (default 1e-4)"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var output = args.Require("--output");
        IndexInput.CheckUsage(args);
        var kind = args.Choice("--kind", "flat", "flat", "flat-int8", "flat-f16", "hnsw", "cur");
        if (kind == "cur") return BuildCur(args, io, output);
        if (CurOptions.FirstOrDefault(args.Has) is { } curOnly) throw new UsageException($"{curOnly} applies to --kind cur");
        var metric = VectorIndex.ParseMetric(args.Choice("--metric", "cosine", "ip", "cosine", "l2"));
        int m = args.GetInt("--hnsw-m", 16, 2, 256);
        int efc = args.GetInt("--ef-construction", 200, 1);
        int seed = args.GetInt("--seed", 42);
        int threads = args.GetInt("--threads", Environment.ProcessorCount, 1);
        if (kind != "hnsw" && (args.Has("--hnsw-m") || args.Has("--ef-construction")))
            throw new UsageException("--hnsw-m and --ef-construction apply to --kind hnsw");
        bool force = args.Has("--force");
        VectorIndex.ClaimDirectory(output, force, checkOnly: true);
        if (!force && File.Exists(Path.Combine(output, IndexManifest.FileName)))
            throw new SemblanceException($"{output}: already holds an index; use 'semblance index add', choose a new directory, or pass --force to replace it");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        VectorIndex New(int dimension) => kind switch
        {
            "hnsw" => new HnswIndex(dimension, metric, new HnswOptions { M = m, EfConstruction = efc, Seed = seed }) { Threads = threads },
            "flat-int8" => new FlatIndex(dimension, metric, FlatEncoding.Int8) { Threads = threads },
            "flat-f16" => new FlatIndex(dimension, metric, FlatEncoding.Float16) { Threads = threads },
            _ => new FlatIndex(dimension, metric) { Threads = threads },
        };
        SemanticIndex index;
        SentenceEncoder? encoder = null;
        if (args.Has("--vectors"))
        {
            if (args.Has("--query-prompt")) throw new UsageException("--query-prompt applies to --input");
            var (vectors, ids) = IndexInput.ReadVectors(args);
            var flat = New(vectors.Columns);
            index = SemanticIndex.Wrap(flat);
            flat.Add(vectors.Data, ids);
        }
        else
        {
            var model = args.Get("--model") ?? throw new UsageException("--input needs --model DIR");
            var items = IndexInput.ReadTexts(args, io, 0);
            var whitening = args.Get("--whitening");
            encoder = IndexInput.Open(model, whitening, IndexInput.EncoderOptions(args));
            index = SemanticIndex.Create(New(encoder.Dimension), encoder, model, whitening, args.Get("--query-prompt") ?? encoder.QueryPrompt);
            index.Add(items.Texts, items.Ids, items.Fields);
        }
        using (encoder)
        using (index)
        {
            VectorIndex.ClaimDirectory(output, force);
            using var writeLock = IndexLock.Acquire(output);
            if (!force && File.Exists(Path.Combine(output, IndexManifest.FileName)))
                throw new SemblanceException($"{output}: already holds an index; use 'semblance index add', choose a new directory, or pass --force to replace it");
            index.Save(output);
            var v = index.Vectors;
            io.Out.WriteLine($"built {output}: kind={v.Kind} metric={VectorIndex.MetricName(metric)} dimension={v.Dimension} count={v.Count} seconds={sw.Elapsed.TotalSeconds:F2}");
        }
        io.Out.Flush();
        return 0;
    }

    private static readonly string[] CurOptions = ["--anchor-queries", "--anchor-query-count", "--anchor-items", "--anchor-selection", "--bi-encoder", "--max-length", "--pinv-cutoff"];

    /// <summary>--kind cur: score the anchor queries against every item with the cross-encoder --model and store R and pinv(A)·R.</summary>
    private static int BuildCur(CommandArgs args, CliIO io, string output)
    {
        if (args.Has("--vectors")) throw new UsageException("--kind cur indexes text (--input with a cross-encoder --model), not --vectors");
        foreach (var other in new[] { "--whitening", "--metric", "--query-prompt", "--hnsw-m", "--ef-construction", "--ids" })
            if (args.Has(other)) throw new UsageException($"{other} does not apply to --kind cur");
        var model = args.Get("--model") ?? throw new UsageException("--kind cur needs --model CE (a cross-encoder)");
        var queriesPath = args.Get("--anchor-queries") ?? throw new UsageException("--kind cur needs --anchor-queries FILE (training queries, one per line)");
        var selection = args.Choice("--anchor-selection", "random", "random", "bi-encoder");
        if ((selection == "bi-encoder") != args.Has("--bi-encoder"))
            throw new UsageException(args.Has("--bi-encoder") ? "--bi-encoder applies to --anchor-selection bi-encoder" : "--anchor-selection bi-encoder needs --bi-encoder DIR (a sentence encoder)");
        int seed = args.GetInt("--seed", 42);
        double cutoff = args.GetDouble("--pinv-cutoff", 1e-4, 0, 0.5);
        int threads = args.GetInt("--threads", Environment.ProcessorCount, 1);
        bool force = args.Has("--force");
        VectorIndex.ClaimDirectory(output, force, checkOnly: true);
        if (!force && File.Exists(Path.Combine(output, IndexManifest.FileName)))
            throw new SemblanceException($"{output}: already holds an index; choose a new directory, or pass --force to replace it");
        var items = IndexInput.ReadTexts(args, io, 0);
        if (items.Fields is not null) throw new UsageException($"{args.Get("--input")}: --kind cur stores ids and texts only; drop the JSONL fields");
        if (items.Texts.Length == 0) throw new InputFormatException($"{args.Get("--input")}: no items (the file is empty)");
        var queries = io.ReadLines(queriesPath).Where(l => l.Trim().Length > 0).ToList();
        if (queries.Count == 0) throw new InputFormatException($"{queriesPath}: no anchor queries (the file is empty)");
        if (args.Has("--anchor-query-count"))
        {
            int count = args.GetInt("--anchor-query-count", 0, 1);
            if (count > queries.Count) throw new UsageException($"--anchor-query-count {count}: {queriesPath} has only {queries.Count} queries");
            var pick = CrossEncoders.CurAnchors.Random(queries.Count, count, seed);
            Array.Sort(pick);
            queries = [.. pick.Select(i => queries[i])];
        }
        int anchorItems = args.GetInt("--anchor-items", Math.Min(100, items.Texts.Length), 1);
        if (anchorItems > items.Texts.Length)
            throw new UsageException($"--anchor-items {anchorItems}: {args.Get("--input")} has only {items.Texts.Length} items; give at most {items.Texts.Length}");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using var ce = CrossEncoders.CrossEncoder.Load(model, new CrossEncoders.CrossEncoderOptions
        {
            MaxLength = args.GetInt("--max-length", 0, 3, 512),
            BatchSize = args.GetInt("--batch-size", 32, 1),
            Threads = threads,
        });
        using var biEncoder = selection == "bi-encoder" ? IndexInput.Open(args.Get("--bi-encoder")!, null, IndexInput.EncoderOptions(args)) : null;
        var progress = new Progress(io, "anchor queries scored");
        using var index = CrossEncoders.CurIndex.Build(ce, model, items.Texts, items.Ids, queries, new CrossEncoders.CurBuildOptions
        {
            AnchorItems = anchorItems,
            Selection = selection == "random" ? CrossEncoders.CurAnchorSelection.Random : CrossEncoders.CurAnchorSelection.BiEncoder,
            Seed = seed,
            RelativeCutoff = cutoff,
            BiEncoder = biEncoder,
            BiEncoderModel = args.Get("--bi-encoder"),
        }, q => progress.Report(q));
        progress.Done();
        VectorIndex.ClaimDirectory(output, force);
        using (IndexLock.Acquire(output))
        {
            if (!force && File.Exists(Path.Combine(output, IndexManifest.FileName)))
                throw new SemblanceException($"{output}: already holds an index; choose a new directory, or pass --force to replace it");
            index.Save(output);
        }
        io.Out.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"built {output}: kind=cur count={index.Count} anchor_queries={index.AnchorQueryCount} anchor_items={anchorItems} rank={index.Approximation.Rank} offline_ce_calls={index.OfflineCalls} matrix_mb={index.MatrixBytes / 1e6:F1} seconds={sw.Elapsed.TotalSeconds:F2}"));
        io.Out.Flush();
        return 0;
    }
}
