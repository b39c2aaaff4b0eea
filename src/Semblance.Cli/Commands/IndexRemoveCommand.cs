// `semblance index remove`: marks items as removed under the writer lock and commits a new generation.
using Semblance.IO;
using Semblance.Search;

namespace Semblance.Cli.Commands;

public sealed class IndexRemoveCommand : CliCommand
{
    public override string Name => "index remove";

    public override string Summary => "remove items by id from an index, crash-safely";

    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("--index", "IDX", "index directory"),
        new("--id", "ID", "one id to remove"),
        new("--ids", "FILE", "ids to remove, one per line ('-' = stdin)"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var dir = args.Require("--index");
        if (args.Has("--id") == args.Has("--ids")) throw new UsageException("give exactly one of --id ID or --ids FILE");
        var ids = args.Get("--id") is { } one ? [one] : io.ReadLines(args.Get("--ids")).Where(l => l.Length > 0).ToList();
        VectorIndex.ReadInfo(dir);
        using var writeLock = IndexLock.Acquire(dir);
        using var index = VectorIndex.Load(dir);
        int removed = index.Remove(ids);
        if (removed > 0) index.Save(dir);
        io.Out.WriteLine($"removed {removed} of {ids.Count} items from {dir}: count={index.Count}");
        io.Out.Flush();
        return 0;
    }
}
