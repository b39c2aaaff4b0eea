// `semblance index add`: appends (or, with --upsert, replaces) items of an existing index under the writer lock; the
// success line is printed only after the new generation is committed.
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
        new("--upsert", null, "replace items whose id is already in the index (default: such an id is an error)"),
        new("--allow-encoder-mismatch", null, "with --model/--whitening: encode with them even if they are not the index's encoder"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var dir = args.Require("--index");
        IndexInput.CheckUsage(args);
        VectorIndex.ReadInfo(dir);
        using var writeLock = IndexLock.Acquire(dir);
        var options = IndexInput.EncoderOptions(args);
        using var index = SemanticIndex.Open(dir, new SemanticIndexOptions { Threads = options.Threads, AllowEncoderMismatch = args.Has("--allow-encoder-mismatch") });
        bool upsert = args.Has("--upsert");
        int count;
        if (args.Has("--vectors"))
        {
            var (vectors, ids) = IndexInput.ReadVectors(args);
            if (vectors.Columns != index.Vectors.Dimension)
                throw new InputFormatException($"{args.Get("--vectors")}: vectors have dimension {vectors.Columns} but index {dir} has dimension {index.Vectors.Dimension}");
            if (upsert) index.Vectors.Upsert(vectors.Data, ids ?? throw new UsageException("--upsert needs ids (--ids FILE)"));
            else index.Vectors.Add(vectors.Data, ids);
            count = vectors.Rows;
        }
        else
        {
            using var given = IndexInput.UseGivenEncoder(index, args, options);
            var items = IndexInput.ReadTexts(args, io, index.Vectors.SlotCount);
            if (upsert) index.Upsert(items.Texts, items.Ids ?? throw new UsageException("--upsert needs ids (JSONL with \"id\")"), items.Fields);
            else index.Add(items.Texts, items.Ids, items.Fields);
            count = items.Texts.Length;
        }
        index.Save();
        io.Out.WriteLine($"{(upsert ? "upserted" : "added")} {count} items to {dir}: count={index.Vectors.Count}");
        io.Out.Flush();
        return 0;
    }
}
