// `semblance index build`: creates a new index directory from text (encoded) or .npy vectors.
using Semblance.Embeddings;
using Semblance.Search;

namespace Semblance.Cli.Commands;

public sealed class IndexBuildCommand : CliCommand
{
    public override string Name => "index build";

    public override string Summary => "build a vector index (flat, flat-int8, flat-f16 or hnsw) from text or .npy vectors";

    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("--output", "IDX", "index directory to create (new or empty; an existing index only with --force)"),
        new("--force", null, "replace the index already in --output (never writes into a directory semblance did not create)"),
        .. IndexInput.Options,
        new("--kind", "KIND", "flat|flat-int8|flat-f16|hnsw (default flat)"),
        new("--metric", "METRIC", "ip|cosine|l2 (default cosine; l2 scores are squared distances, smaller is better)"),
        new("--hnsw-m", "M", "HNSW links per node (default 16)"),
        new("--ef-construction", "E", "HNSW candidate list while building (default 200)"),
        new("--seed", "N", "HNSW level-generation seed (default 42)"),
        new("--query-prompt", "TEXT", "with --input: text put before every query, recorded in the index (default: the model's \"query\" prompt, if it has one)"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var output = args.Require("--output");
        IndexInput.CheckUsage(args);
        var kind = args.Choice("--kind", "flat", "flat", "flat-int8", "flat-f16", "hnsw");
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
}
