// `semblance cluster index search`: fan-out search through the index's coordinator; one JSON line per query.
using System.Text.Json;
using Semblance.Cluster;

namespace Semblance.Cli.Commands;

public sealed class ClusterIndexSearchCommand : CliCommand
{
    public override string Name => "cluster index search";

    public override string Summary => "search a sharded cluster index: exact top k over the shards that answer, missing shards named";

    public override IReadOnlyList<OptionSpec> Options =>
    [
        .. ClusterArgs.ClientOptions,
        new("--index", "NAME", "index name"),
        new("--query", "TEXT", "one query"),
        new("--queries", "FILE", "one query per line (instead of --query)"),
        new("--k", "K", "hits per query (default 10)"),
        new("--shard-timeout", "MS", "per-shard timeout in milliseconds, all replicas included (default 5000)"),
        new("--retry-partial", "SECONDS", "ask again, for up to this long, when a query fails or comes back with missing shards (default 0: answer at once)"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var name = ClusterIndexBuildCommand.CheckName(args.Require("--index"));
        if (args.Has("--query") == args.Has("--queries")) throw new UsageException("give one of --query TEXT or --queries FILE");
        var queries = args.Get("--query") is { } q ? [q] : io.ReadLines(args.Get("--queries")).ToArray();
        int k = args.GetInt("--k", 10, 1, 10000);
        var timeout = TimeSpan.FromMilliseconds(args.GetInt("--shard-timeout", 5000, 1));
        var retryFor = TimeSpan.FromSeconds(args.GetInt("--retry-partial", 0, 0, 3600));
        bool partial = false;
        ClusterArgs.WithClient(args, async c =>
        {
            var index = c.GetGrain<IClusterIndex>(name);
            if (await index.Spec() is null) throw new SemblanceException($"{name}: no such cluster index; build it with 'semblance cluster index build'");
            foreach (var query in queries)
            {
                var r = await Ask(index, query, k, timeout, retryFor);
                partial |= r.Missing.Length > 0;
                io.Out.WriteLine(Json(query, r));
            }
            return 0;
        });
        if (partial) io.Err.WriteLine("warning: some shards did not answer; their results are missing (see \"missing_shards\")");
        return 0;
    }

    /// <summary>
    /// One query; with a retry window, a failed call (e.g. the coordinator's silo died and is not yet declared dead)
    /// or a partial answer is asked again every half second until complete or the window ends (the last answer is kept).
    /// </summary>
    private static async Task<ClusterSearchResult> Ask(IClusterIndex index, string query, int k, TimeSpan timeout, TimeSpan retryFor)
    {
        var until = DateTime.UtcNow + retryFor;
        while (true)
        {
            try
            {
                var r = await index.Search(query, k, timeout);
                if (r.Missing.Length == 0 || DateTime.UtcNow >= until) return r;
            }
            catch (Exception) when (DateTime.UtcNow < until)
            {
            }
            await Task.Delay(500);
        }
    }

    /// <summary>{"query":…, "hits":[{"id","score","text"}…], "missing_shards":[…], "errors":[…]}</summary>
    public static string Json(string query, ClusterSearchResult r) => JsonSerializer.Serialize(new
    {
        query,
        hits = r.Hits.Select(h => new { id = h.Id, score = h.Score, text = h.Text }),
        missing_shards = r.Missing,
        errors = r.Errors,
    });
}
