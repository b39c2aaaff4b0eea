// `semblance cluster encode`: an encoding job spread over the cluster's encoder workers; resumable.
using Semblance.Cluster;

namespace Semblance.Cli.Commands;

public sealed class ClusterEncodeCommand : CliCommand
{
    public override string Name => "cluster encode";

    public override string Summary => "encode a text file on the cluster into DIR/vectors.npy (chunks leased to workers, resumable)";

    public override IReadOnlyList<OptionSpec> Options =>
    [
        .. ClusterArgs.ClientOptions,
        new("--input", "FILE", "UTF-8 text, one item per line, on storage every silo reads"),
        new("--output", "DIR", "output directory on shared storage: vectors.npy, job.json and the committed chunks; rerun to resume"),
        new("--chunk-lines", "N", "lines per chunk (default 256)"),
        new("--parallel", "N", "chunks in flight at once (default 4)"),
        new("--timeout", "SECONDS", "give up after this long (default 86400)"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var input = args.Require("--input");
        var output = args.Require("--output");
        var options = new EncodeJobOptions
        {
            ChunkLines = args.GetInt("--chunk-lines", 256, 1),
            Parallel = args.GetInt("--parallel", 4, 1, 1024),
            Timeout = TimeSpan.FromSeconds(args.GetInt("--timeout", 86400, 1)),
        };
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var progress = new Progress<EncodeJobStatus>(s => { if (io.Verbose) io.Err.WriteLine($"chunks {s.Committed}/{s.Chunks} lines {s.Lines}"); });
        var result = ClusterArgs.WithClient(args, c => EncodeJobRunner.RunAsync(c, input, output, options, progress));
        io.Out.WriteLine($"encoded {Path.GetFullPath(output)}: lines={result.Lines} rows={result.Rows} verified={result.Verified} dimension={result.Dimension} seconds={sw.Elapsed.TotalSeconds:F2}");
        return result.Rows == result.Lines && result.Verified == result.Lines ? 0 : CliApp.ExitUserError;
    }
}
