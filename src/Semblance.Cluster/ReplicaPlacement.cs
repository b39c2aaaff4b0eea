// Replica anti-affinity: the replicas of one shard are activated on distinct silos whenever there are as many silos
// as replicas, so one silo's death never takes every replica of a shard. Shard s's replica r goes to silo
// (CRC-32C("index/s") + r) mod N of the compatible silos in address order: consecutive replicas, distinct silos,
// and different shards start on different silos so the load spreads.
using System.Globalization;
using System.Text;
using Orleans;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;
using Semblance.Search;

namespace Semblance.Cluster;

[Serializable, GenerateSerializer, Immutable, Alias("semblance.replica-placement")]
public sealed class ReplicaPlacement : PlacementStrategy
{
    internal static readonly ReplicaPlacement Instance = new();
}

/// <summary>Places a grain keyed "index/shard/replica" with <see cref="ReplicaPlacementDirector"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ReplicaPlacementAttribute() : PlacementAttribute(ReplicaPlacement.Instance);

public sealed class ReplicaPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target).OrderBy(s => s.ToString(), StringComparer.Ordinal).ToArray();
        return Task.FromResult(silos[SiloIndex(target.GrainIdentity.Key.ToString()!, silos.Length)]);
    }

    /// <summary>The position, among <paramref name="silos"/> silos in address order, of the replica a shard key names.</summary>
    public static int SiloIndex(string key, int silos)
    {
        int cut = key.LastIndexOf('/');
        if (cut <= 0 || !int.TryParse(key.AsSpan(cut + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int replica))
            return (int)(Crc32C.Compute(Encoding.UTF8.GetBytes(key)) % (uint)silos);
        return (int)((Crc32C.Compute(Encoding.UTF8.GetBytes(key[..cut])) + (ulong)replica) % (ulong)silos);
    }
}
