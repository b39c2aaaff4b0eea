// `semblance index build`: creates a new index directory from text (encoded) or .npy vectors.
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
        var items = IndexInput.Read(args, io, null, null, 0, out var model, out var whitening);
        VectorIndex.ClaimDirectory(output, force);
        using var writeLock = IndexLock.Acquire(output);
        if (!force && File.Exists(Path.Combine(output, IndexManifest.FileName)))
            throw new SemblanceException($"{output}: already holds an index; use 'semblance index add', choose a new directory, or pass --force to replace it");
        using VectorIndex index = kind switch
        {
            "hnsw" => new HnswIndex(items.Dimension, metric, new HnswOptions { M = m, EfConstruction = efc, Seed = seed }),
            "flat-int8" => new FlatIndex(items.Dimension, metric, FlatEncoding.Int8),
            "flat-f16" => new FlatIndex(items.Dimension, metric, FlatEncoding.Float16),
            _ => new FlatIndex(items.Dimension, metric),
        };
        index.Threads = threads;
        index.Model = model;
        index.Whitening = whitening;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        index.Add(items.Vectors, items.Ids, items.Payloads);
        index.Save(output);
        io.Out.WriteLine($"built {output}: kind={index.Kind} metric={VectorIndex.MetricName(metric)} dimension={index.Dimension} count={index.Count} seconds={sw.Elapsed.TotalSeconds:F2}");
        io.Out.Flush();
        return 0;
    }
}
