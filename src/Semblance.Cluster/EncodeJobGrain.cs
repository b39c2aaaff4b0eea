// One encoding job: the chunk list and which chunks are committed live in grain storage; leases live in memory
// (after a move to another silo every uncommitted chunk is simply leasable again).
using System.Text.Json;
using Orleans;
using Orleans.Runtime;
using Semblance.IO;

namespace Semblance.Cluster;

[GenerateSerializer, Alias("semblance.job-state")]
public sealed class EncodeJobState
{
    [Id(0)] public EncodeJobSpec? Spec { get; set; }
    [Id(1)] public HashSet<int> Committed { get; set; } = [];
}

public sealed class EncodeJobGrain([PersistentState("job", ClusterHosting.StorageName)] IPersistentState<EncodeJobState> state) : Grain, IEncodeJob
{
    private readonly Dictionary<int, DateTime> _leases = [];

    public async Task<EncodeJobStatus> Start(EncodeJobSpec spec)
    {
        var current = state.State.Spec;
        if (current is not null && (current.Input != spec.Input || current.InputBytes != spec.InputBytes || current.Chunks.Length != spec.Chunks.Length))
        {
            if (_leases.Values.Any(until => until > DateTime.UtcNow))
                return Snapshot() with { Error = $"{spec.Output}: already being written by the job encoding {current.Input} ({current.InputBytes} bytes); choose another output directory" };
            foreach (var c in current.Chunks) File.Delete(ChunkFile.PathOf(c.ChunkDirectory, c.Index));
            _leases.Clear();
            state.State.Committed.Clear();
            current = null;
        }
        if (current is null)
        {
            state.State.Spec = spec;
            // The disk is the record of commits: chunks committed before grain storage was lost still count.
            foreach (var c in spec.Chunks)
                if (ChunkFile.IsCommitted(c)) state.State.Committed.Add(c.Index);
            await state.WriteStateAsync();
        }
        return Snapshot();
    }

    private EncodeJobSpec Spec => state.State.Spec ?? throw new SemblanceException($"{this.GetPrimaryKeyString()}: no job was started for this output");

    public Task<ChunkLease> Lease(TimeSpan duration)
    {
        var spec = Spec;
        var now = DateTime.UtcNow;
        foreach (var c in spec.Chunks)
        {
            if (state.State.Committed.Contains(c.Index)) continue;
            if (_leases.TryGetValue(c.Index, out var until) && until > now) continue;
            _leases[c.Index] = now + duration;
            return Task.FromResult(new ChunkLease(c, false));
        }
        return Task.FromResult(new ChunkLease(null, state.State.Committed.Count == spec.Chunks.Length));
    }

    public async Task Commit(ChunkResult result)
    {
        var spec = Spec;
        if (result.Index < 0 || result.Index >= spec.Chunks.Length) throw new SemblanceException($"{spec.Output}: no chunk {result.Index}");
        _leases.Remove(result.Index);
        if (!ChunkFile.IsCommitted(spec.Chunks[result.Index]))
            throw new SemblanceException($"{spec.Output}: chunk {result.Index} reported done but its file is missing or incomplete");
        if (state.State.Committed.Add(result.Index)) await state.WriteStateAsync();
    }

    public Task Release(int chunk)
    {
        _leases.Remove(chunk);
        return Task.CompletedTask;
    }

    public Task<EncodeJobStatus> Status() => Task.FromResult(Snapshot());

    private EncodeJobStatus Snapshot()
    {
        var spec = Spec;
        var now = DateTime.UtcNow;
        long lines = spec.Chunks.Where(c => state.State.Committed.Contains(c.Index)).Sum(c => (long)c.Count);
        return new EncodeJobStatus(spec.Chunks.Length, state.State.Committed.Count, _leases.Count(l => l.Value > now), lines);
    }

    public Task<EncodeJobResult> Finish()
    {
        var spec = Spec;
        if (state.State.Committed.Count != spec.Chunks.Length)
            throw new SemblanceException($"{spec.Output}: {spec.Chunks.Length - state.State.Committed.Count} chunks are not committed yet");
        return Task.FromResult(EncodeOutput.Merge(spec));
    }
}

/// <summary>The finished output of a job: vectors.npy (rows in input order) and job.json.</summary>
public static class EncodeOutput
{
    public const string Kind = "semblance-cluster-encode";

    public static EncodeJobResult Merge(EncodeJobSpec spec)
    {
        using var input = TextLines.Read(TextLines.OpenRead(spec.Input), spec.Input).GetEnumerator();
        long next = 0, verified = 0;
        int dimension = 0;
        NpyStreamWriter? writer = null;
        try
        {
            foreach (var chunk in spec.Chunks)
            {
                var path = ChunkFile.PathOf(chunk.ChunkDirectory, chunk.Index);
                var c = ChunkFile.Read(path);
                if (c.FirstLine != next || c.Checksums.Length != chunk.Count)
                    throw new SemblanceException($"{path}: holds lines from {c.FirstLine + 1} ({c.Checksums.Length} lines), expected from {next + 1} ({chunk.Count} lines)");
                writer ??= new NpyStreamWriter(Path.Combine(spec.Output, "vectors.npy"), dimension = c.Dimension);
                if (c.Dimension != dimension) throw new SemblanceException($"{path}: dimension {c.Dimension}, other chunks have {dimension}");
                foreach (var sum in c.Checksums)
                {
                    if (!input.MoveNext()) throw new SemblanceException($"{spec.Input}: shorter than when the job started");
                    if (ChunkFile.LineChecksum(input.Current) == sum) verified++;
                }
                writer.WriteRows(c.Vectors);
                next += c.Checksums.Length;
            }
            if (input.MoveNext()) throw new SemblanceException($"{spec.Input}: longer than when the job started");
            writer?.Complete();
        }
        finally
        {
            writer?.Dispose();
        }
        var result = new EncodeJobResult(next, writer?.Rows ?? 0, verified, dimension);
        AtomicFile.WriteAllText(Path.Combine(spec.Output, "job.json"), JsonSerializer.Serialize(new
        {
            input = spec.Input,
            input_bytes = spec.InputBytes,
            chunks = spec.Chunks.Length,
            lines = result.Lines,
            rows = result.Rows,
            verified = result.Verified,
            dimension,
        }) + "\n");
        return result;
    }
}
