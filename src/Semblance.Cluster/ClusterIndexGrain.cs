// The coordinator of one index: keeps the shard map in grain storage (and beside the shards, so a coordinator that
// lost its storage finds it again), fans a query out to every shard and merges the top k exactly.
using System.Text.Json;
using Orleans;
using Orleans.Runtime;
using Semblance.IO;
using Semblance.Search;

namespace Semblance.Cluster;

[GenerateSerializer, Alias("semblance.index-state")]
public sealed class ClusterIndexState
{
    [Id(0)] public ClusterIndexSpec? Spec { get; set; }
}

public sealed class ClusterIndexGrain(
    [PersistentState("index", ClusterHosting.StorageName)] IPersistentState<ClusterIndexState> state, SiloModel model) : Grain, IClusterIndex
{
    public const string MapFile = "cluster-index.json";
    private int _turn;

    public async Task<long> Build(ClusterIndexSpec spec, string input)
    {
        var name = this.GetPrimaryKeyString();
        spec = spec with { Name = name, Directory = model.IndexDirectory(name) };
        OutputDirectory.Claim(spec.Directory, "semblance-cluster-index", replace: true, "");
        var counts = await Task.WhenAll(Enumerable.Range(0, spec.Shards)
            .Select(s => GrainFactory.GetGrain<IShard>(ShardKey(name, s, 0)).Build(spec, s, input)));
        await Record(spec with { Count = counts.Sum() });
        return counts.Sum();
    }

    public async Task<long> Add(string input)
    {
        var name = this.GetPrimaryKeyString();
        var spec = Load() ?? throw new SemblanceException($"{name}: no such index; build it with 'semblance cluster index build'");
        long first = spec.Count;
        if (first == 0)
        {
            // A map from before counts were recorded: the shards know.
            var counts = await Task.WhenAll(Enumerable.Range(0, spec.Shards).Select(s => GrainFactory.GetGrain<IShard>(ShardKey(name, s, 0)).Count()));
            first = counts.Sum();
        }
        // Every shard commits its part atomically (replica 0 writes; the other replicas reopen the new generation) and
        // answers its new size, so the shards' sum is the new count. The count is recorded only once every shard
        // committed, so a failed add repeated with the same input gives the same ids, which the shards replace
        // instead of duplicating.
        var sizes = await Task.WhenAll(Enumerable.Range(0, spec.Shards).Select(s => GrainFactory.GetGrain<IShard>(ShardKey(name, s, 0)).Add(spec, s, input, first)));
        long count = sizes.Sum();
        if (count != spec.Count) await Record(spec with { Count = count });
        return count;
    }

    /// <summary>Keeps the shard map in grain storage and beside the shards (atomic rename).</summary>
    private async Task Record(ClusterIndexSpec spec)
    {
        AtomicFile.WriteAllText(Path.Combine(spec.Directory, MapFile), JsonSerializer.Serialize(spec) + "\n");
        state.State.Spec = spec;
        await state.WriteStateAsync();
    }

    public static string ShardKey(string index, int shard, int replica) => $"{index}/{shard}/{replica}";

    public Task<ClusterIndexSpec?> Spec() => Task.FromResult(Load());

    private ClusterIndexSpec? Load()
    {
        if (state.State.Spec is { } spec) return spec;
        var path = Path.Combine(model.IndexDirectory(this.GetPrimaryKeyString()), MapFile);
        if (!File.Exists(path)) return null;
        return state.State.Spec = JsonSerializer.Deserialize<ClusterIndexSpec>(File.ReadAllText(path));
    }

    public async Task<ClusterSearchResult> Search(string query, int k, TimeSpan shardTimeout)
    {
        var spec = Load() ?? throw new SemblanceException($"{this.GetPrimaryKeyString()}: no such index; build it with 'semblance cluster index build'");
        int turn = _turn++;
        var errors = new List<string>();
        float[]? vector = null;
        // The query is encoded by a shard (as its index records), the first one that answers.
        for (int s = 0; s < spec.Shards && vector is null; s++)
            vector = await Ask(spec, (s + turn) % spec.Shards, turn, shardTimeout, g => g.EncodeQuery(query), errors);
        if (vector is null) return new ClusterSearchResult([], Enumerable.Range(0, spec.Shards).ToArray(), errors.ToArray());
        var answers = await Task.WhenAll(Enumerable.Range(0, spec.Shards).Select(s => Ask(spec, s, turn, shardTimeout, g => g.Search(vector, k), errors)));
        var missing = Enumerable.Range(0, spec.Shards).Where(s => answers[s] is null).ToArray();
        return new ClusterSearchResult(Merge(answers.Where(a => a is not null).SelectMany(a => a!), k, VectorIndex.ParseMetric(spec.Metric)), missing, errors.ToArray());
    }

    /// <summary>The exact top k of the shards' own top k lists (L2 scores are distances: smaller first).</summary>
    public static ClusterHit[] Merge(IEnumerable<ClusterHit> hits, int k, Metric metric) =>
        (metric == Metric.L2 ? hits.OrderBy(h => h.Score) : hits.OrderByDescending(h => h.Score)).ThenBy(h => h.Id, StringComparer.Ordinal).Take(k).ToArray();

    /// <summary>
    /// Asks one shard, replica after replica (starting from a rotating one), within one timeout for the shard;
    /// null when no replica answered in time.
    /// </summary>
    private async Task<T?> Ask<T>(ClusterIndexSpec spec, int shard, int turn, TimeSpan timeout, Func<IShard, Task<T>> call, List<string> errors) where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        for (int i = 0; i < spec.Replicas; i++)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) break;
            int replica = (turn + i) % spec.Replicas;
            try
            {
                return await call(GrainFactory.GetGrain<IShard>(ShardKey(spec.Name, shard, replica))).WaitAsync(left);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                lock (errors) errors.Add($"shard {shard} replica {replica}: {FirstLine(e.Message)}");
            }
        }
        return null;
    }

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
