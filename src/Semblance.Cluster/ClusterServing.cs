// The HTTP front end on a cluster (`semblance serve --cluster`): the server's remote encoder and remote search,
// as plain delegates over a connected client, so the server itself knows nothing of Orleans.
using Orleans;
using Semblance.Search;

namespace Semblance.Cluster;

public static class ClusterServing
{
    /// <summary>Encodes each batch on an encoder worker (a fresh key per batch: placement picks the least-loaded silo).</summary>
    public static Func<IReadOnlyList<string>, CancellationToken, Task<float[]>> Encoder(IGrainFactory grains)
    {
        long batch = 0;
        return (texts, _) => grains.GetGrain<IEncoderWorker>(Interlocked.Increment(ref batch)).Encode([.. texts]);
    }

    /// <summary>Searches the sharded index <paramref name="index"/> through its coordinator (exact merge, missing shards named).</summary>
    public static Func<string, int, CancellationToken, Task<(IReadOnlyList<SearchHit> Hits, IReadOnlyList<int> MissingShards)>> Search(
        IGrainFactory grains, string index, TimeSpan shardTimeout) => async (query, k, _) =>
    {
        var r = await grains.GetGrain<IClusterIndex>(index).Search(query, k, shardTimeout);
        return (r.Hits.Select(h => new SearchHit(h.Id, h.Score, h.Text)).ToArray(), r.Missing);
    };
}
