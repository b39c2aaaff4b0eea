// `semblance cluster index add`: appends items to a sharded index, ids continuing from its count.
using Semblance.Cluster;

namespace Semblance.Cli.Commands;

public sealed class ClusterIndexAddCommand : CliCommand
{
    public override string Name => "cluster index add";

    public override string Summary => "append items to a sharded index on the cluster (ids continue from its count; each shard commits atomically)";

    public override IReadOnlyList<OptionSpec> Options =>
    [
        .. ClusterArgs.ClientOptions,
        new("--index", "NAME", "index name"),
        new("--input", "FILE", "UTF-8 text, one item per line, on storage every silo reads"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var name = ClusterIndexBuildCommand.CheckName(args.Require("--index"));
        var input = Path.GetFullPath(args.Require("--input"));
        if (!File.Exists(input)) throw new SemblanceException($"{input}: no such file");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        long count = ClusterArgs.WithClient(args, c => c.GetGrain<IClusterIndex>(name).Add(input));
        io.Out.WriteLine($"added {input} to cluster index {name}: count={count} seconds={sw.Elapsed.TotalSeconds:F2}");
        return 0;
    }
}
