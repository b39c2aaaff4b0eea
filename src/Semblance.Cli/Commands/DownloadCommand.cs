// `semblance download ORG/NAME`: fetch a model's files from the Hugging Face hub into the shared hub cache.
using Semblance.Hub;

namespace Semblance.Cli.Commands;

public sealed class DownloadCommand : CliCommand
{
    public override string Name => "download";

    public override string Summary => "download a model from the Hugging Face hub into its cache (HF_HUB_CACHE/HF_HOME); prints the snapshot directory";

    public override string? Positionals => "ORG/NAME[@REVISION]";

    public override int MinPositionals => 1;

    public override int MaxPositionals => 1;

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--revision", "R", "branch, tag or commit (default main, or the @REVISION in the id)"),
        new("--include", "GLOB", "only files matching these comma-separated globs (* stays in one path segment, ** crosses them); default: config, tokenizer, safetensors and sentence-transformers module files"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var id = HubModelId.Parse(args.Positionals[0]);
        if (args.Get("--revision") is { } revision)
        {
            if (args.Positionals[0].Contains('@')) throw new UsageException("give the revision either as ORG/NAME@REVISION or with --revision, not both");
            id = HubModelId.Parse($"{id.Repo}@{revision}");
        }
        var include = args.GetList("--include");
        using var client = new HubClient(HubSettings.FromEnvironment());
        var snapshot = client.DownloadAsync(id, include.Count > 0 ? include : null, io.Verbose || io.ShowProgress ? new SyncProgress(io.Err) : null)
            .GetAwaiter().GetResult();
        io.Out.WriteLine(snapshot);
        return 0;
    }

    /// <summary>Writes messages as they come (Progress&lt;T&gt; would post them to the thread pool, out of order).</summary>
    private sealed class SyncProgress(TextWriter err) : IProgress<string>
    {
        public void Report(string value) => err.WriteLine(value);
    }
}
