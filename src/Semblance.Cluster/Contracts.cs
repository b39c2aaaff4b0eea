// The grain interfaces of the cluster and the messages they exchange (Orleans-serialized records).
using Orleans;
using Orleans.Concurrency;

namespace Semblance.Cluster;

/// <summary>One chunk of an encoding job: a byte range of the input file holding lines [FirstLine, FirstLine + Count).</summary>
[GenerateSerializer, Immutable, Alias("semblance.chunk")]
public sealed record ChunkSpec(
    [property: Id(0)] string Input,
    [property: Id(1)] string ChunkDirectory,
    [property: Id(2)] int Index,
    [property: Id(3)] long Offset,
    [property: Id(4)] long Length,
    [property: Id(5)] long FirstLine,
    [property: Id(6)] int Count);

/// <summary>What a worker did with a chunk: lines encoded and the silo that did it.</summary>
[GenerateSerializer, Immutable, Alias("semblance.chunk-result")]
public sealed record ChunkResult([property: Id(0)] int Index, [property: Id(1)] int Count, [property: Id(2)] int Dimension, [property: Id(3)] string Silo);

/// <summary>An encoding job: the input file (on storage every silo reads), the output directory and its chunks.</summary>
[GenerateSerializer, Immutable, Alias("semblance.job")]
public sealed record EncodeJobSpec([property: Id(0)] string Input, [property: Id(1)] string Output, [property: Id(2)] long InputBytes, [property: Id(3)] ChunkSpec[] Chunks);

/// <summary>Progress of an encoding job.</summary>
[GenerateSerializer, Immutable, Alias("semblance.job-status")]
public sealed record EncodeJobStatus([property: Id(0)] int Chunks, [property: Id(1)] int Committed, [property: Id(2)] int Leased, [property: Id(3)] long Lines, [property: Id(4)] string? Error = null);

/// <summary>A lease answer: the chunk to encode, or none now (Done tells whether every chunk is committed).</summary>
[GenerateSerializer, Immutable, Alias("semblance.lease")]
public sealed record ChunkLease([property: Id(0)] ChunkSpec? Chunk, [property: Id(1)] bool Done);

/// <summary>
/// A sharded index: its shard count, replicas per shard, kind and metric, where its shards live, and how many items it
/// holds (the next added item's id; 0 in maps written before it was recorded, then the shards are counted).
/// </summary>
[GenerateSerializer, Immutable, Alias("semblance.index-spec")]
public sealed record ClusterIndexSpec(
    [property: Id(0)] string Name,
    [property: Id(1)] int Shards,
    [property: Id(2)] int Replicas,
    [property: Id(3)] string Kind,
    [property: Id(4)] string Metric,
    [property: Id(5)] string Directory,
    [property: Id(6)] long Count = 0);

/// <summary>One hit of a shard or of the merged answer.</summary>
[GenerateSerializer, Immutable, Alias("semblance.hit")]
public sealed record ClusterHit([property: Id(0)] string Id, [property: Id(1)] float Score, [property: Id(2)] string? Text);

/// <summary>
/// The merged answer of a search: the top k over the shards that answered, and the shards that did not (no replica
/// answered within the per-shard timeout, or its files are missing or damaged). Empty <see cref="Missing"/> means exact.
/// </summary>
[GenerateSerializer, Immutable, Alias("semblance.search-result")]
public sealed record ClusterSearchResult([property: Id(0)] ClusterHit[] Hits, [property: Id(1)] int[] Missing, [property: Id(2)] string[] Errors);

/// <summary>Encodes texts with the model its silo loaded once; holds no state, so any activation on any silo serves.</summary>
[Alias("semblance.IEncoderWorker")]
public interface IEncoderWorker : IGrainWithIntegerKey
{
    /// <summary>Encodes the lines of a chunk and commits them as one chunk file (atomic rename).</summary>
    [Alias("EncodeChunk")]
    Task<ChunkResult> EncodeChunk(ChunkSpec chunk);

    /// <summary>Encodes texts with the silo's model: their un-normalised rows, row-major (the HTTP front end's batches).</summary>
    [Alias("Encode")]
    Task<float[]> Encode(string[] texts);
}

/// <summary>One encoding job, keyed by its full output directory: hands out chunk leases and records commits.</summary>
[Alias("semblance.IEncodeJob")]
public interface IEncodeJob : IGrainWithStringKey
{
    /// <summary>
    /// Starts the job, or resumes it when the same input was started before. Another input is refused (Error set) while
    /// the job it replaces has live leases; an idle or finished job for another input is replaced, its chunks removed.
    /// </summary>
    [Alias("Start")]
    Task<EncodeJobStatus> Start(EncodeJobSpec spec);

    [Alias("Lease")]
    Task<ChunkLease> Lease(TimeSpan duration);

    [Alias("Commit")]
    Task Commit(ChunkResult result);

    /// <summary>Gives a lease back early (its worker failed), so the chunk is handed out again at once.</summary>
    [Alias("Release")]
    Task Release(int chunk);

    [Alias("Status")]
    Task<EncodeJobStatus> Status();

    /// <summary>
    /// When every chunk is committed: merges the chunks in input order into vectors.npy and job.json (atomic renames),
    /// checking that the chunks tile the input and that each row's line checksum matches its input line.
    /// </summary>
    [Alias("Finish")]
    Task<EncodeJobResult> Finish();
}

/// <summary>A finished job: input lines, rows written, and rows whose line checksum matched their input line.</summary>
[GenerateSerializer, Immutable, Alias("semblance.job-result")]
public sealed record EncodeJobResult([property: Id(0)] long Lines, [property: Id(1)] long Rows, [property: Id(2)] long Verified, [property: Id(3)] int Dimension);

/// <summary>One replica of one shard (key "index/shard/replica"): a standard index directory on shared storage.</summary>
[Alias("semblance.IShard")]
public interface IShard : IGrainWithStringKey
{
    /// <summary>Builds the shard from the input lines whose id hashes to it; returns its item count.</summary>
    [Alias("Build")]
    Task<long> Build(ClusterIndexSpec spec, int shard, string input);

    /// <summary>Encodes a query as the shard's index compares it (its recorded prompt, whitening and normalisation).</summary>
    [Alias("EncodeQuery")]
    Task<float[]> EncodeQuery(string query);

    [Alias("Search")]
    Task<ClusterHit[]> Search(float[] query, int k);

    [Alias("Count")]
    Task<long> Count();

    /// <summary>
    /// Adds the input lines whose id (<paramref name="firstId"/> + line number) hashes to this shard, replacing items
    /// with the same id (so a repeated add is harmless), and commits the shard atomically; returns the shard's count.
    /// </summary>
    [Alias("Add")]
    Task<long> Add(ClusterIndexSpec spec, int shard, string input, long firstId);
}

/// <summary>The coordinator of one index (keyed by its name): the shard map, fan-out search and the exact merge.</summary>
[Alias("semblance.IClusterIndex")]
public interface IClusterIndex : IGrainWithStringKey
{
    [Alias("Build")]
    Task<long> Build(ClusterIndexSpec spec, string input);

    [Alias("Spec")]
    Task<ClusterIndexSpec?> Spec();

    /// <summary>
    /// Appends the lines of <paramref name="input"/> with ids continuing from the index's count, each to the shard its
    /// id hashes to (every shard committed atomically); returns the new count. A failed add may be repeated.
    /// </summary>
    [Alias("Add")]
    Task<long> Add(string input);

    [Alias("Search")]
    Task<ClusterSearchResult> Search(string query, int k, TimeSpan shardTimeout);
}
