// `semblance index add`: appends items to an existing index under the writer lock; the success line is printed only
// after the new generation is committed.
using Semblance.Search;

namespace Semblance.Cli.Commands;

public sealed class IndexAddCommand : CliCommand
{
    public override string Name => "index add";

    public override string Summary => "add items (text or .npy vectors) to an existing index, crash-safely";

    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("--index", "IDX", "index directory"),
        .. IndexInput.AddOptions,
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var dir = args.Require("--index");
        IndexInput.CheckUsage(args);
        var info = VectorIndex.ReadInfo(dir);
        using var writeLock = IndexLock.Acquire(dir);
        using var index = VectorIndex.Load(dir);
        index.Threads = args.GetInt("--threads", Environment.ProcessorCount, 1);
        var items = IndexInput.Read(args, io, index.Model, index.Whitening, index.SlotCount, out _, out _);
        if (items.Dimension != index.Dimension)
            throw new InputFormatException($"{args.Get("--vectors") ?? args.Get("--input")}: vectors have dimension {items.Dimension} but index {dir} has dimension {index.Dimension}");
        index.Add(items.Vectors, items.Ids, items.Payloads);
        index.Save(dir);
        io.Out.WriteLine($"added {items.Count} items to {dir}: count={index.Count}");
        io.Out.Flush();
        return 0;
    }
}
