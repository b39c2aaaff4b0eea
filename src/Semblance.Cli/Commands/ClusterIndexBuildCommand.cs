// `semblance cluster index build`: a sharded index built by the shard grains from a text file on shared storage.
using Semblance.Cluster;

namespace Semblance.Cli.Commands;

public sealed class ClusterIndexBuildCommand : CliCommand
{
    public override string Name => "cluster index build";

    public override string Summary => "build a sharded index on the cluster (items sharded by id hash; ids are line numbers from 0)";

    public override IReadOnlyList<OptionSpec> Options =>
    [
        .. ClusterArgs.ClientOptions,
        new("--index", "NAME", "index name (its shards go to STORAGE/indexes/NAME/shard-NNN)"),
        new("--input", "FILE", "UTF-8 text, one item per line, on storage every silo reads"),
        new("--shards", "N", "shard count (default 4)"),
        new("--replicas", "N", "replicas per shard: grains serving the same shard directory (default 2)"),
        new("--kind", "KIND", "flat|hnsw (default flat)"),
        new("--metric", "METRIC", "ip|cosine|l2 (default cosine)"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var name = CheckName(args.Require("--index"));
        var input = Path.GetFullPath(args.Require("--input"));
        if (!File.Exists(input)) throw new SemblanceException($"{input}: no such file");
        var spec = new ClusterIndexSpec(name, args.GetInt("--shards", 4, 1, 4096), args.GetInt("--replicas", 2, 1, 16),
            args.Choice("--kind", "flat", "flat", "hnsw"), args.Choice("--metric", "cosine", "ip", "cosine", "l2"), "");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        long count = ClusterArgs.WithClient(args, c => c.GetGrain<IClusterIndex>(name).Build(spec, input));
        io.Out.WriteLine($"built cluster index {name}: shards={spec.Shards} replicas={spec.Replicas} kind={spec.Kind} metric={spec.Metric} count={count} seconds={sw.Elapsed.TotalSeconds:F2}");
        return 0;
    }

    /// <summary>Index names become directory names and grain keys: letters, digits, '-', '_' and '.'.</summary>
    public static string CheckName(string name)
    {
        if (name.Length == 0 || name.Length > 128 || name.StartsWith('.') || !name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.'))
            throw new UsageException($"--index: '{name}' is not a valid index name (letters, digits, '-', '_', '.')");
        return name;
    }
}
