// The client side of an encoding job: splits the input into chunks, starts (or resumes) the job grain, and keeps
// workers busy with leased chunks until every chunk is committed. Any failure of a worker or of the silo holding the
// job only costs a retry: leases expire, chunk files are whole or absent, commits are idempotent.
using Orleans;
using Semblance.IO;

namespace Semblance.Cluster;

public sealed record EncodeJobOptions
{
    public int ChunkLines { get; init; } = 256;
    public int Parallel { get; init; } = 4;
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromHours(24);
}

public static class EncodeJobRunner
{
    /// <summary>The chunks of <paramref name="input"/>: byte ranges of <paramref name="chunkLines"/> lines (split as TextLines splits).</summary>
    public static ChunkSpec[] Split(string input, string chunkDirectory, int chunkLines)
    {
        var chunks = new List<ChunkSpec>();
        using var fs = TextLines.OpenRead(input);
        var buffer = new byte[1 << 16];
        long pos = 0, start = 0, line = 0, firstLine = 0;
        int inChunk = 0, read;
        bool pending = false; // bytes after the last '\n'
        while ((read = fs.Read(buffer, 0, buffer.Length)) > 0)
        {
            for (int i = 0; i < read; i++)
            {
                if (buffer[i] != (byte)'\n') { pending = true; continue; }
                pending = false;
                line++;
                if (++inChunk == chunkLines)
                {
                    long end = pos + i + 1;
                    chunks.Add(new ChunkSpec(input, chunkDirectory, chunks.Count, start, end - start, firstLine, inChunk));
                    start = end;
                    firstLine = line;
                    inChunk = 0;
                }
            }
            pos += read;
        }
        if (pending) inChunk++;
        if (inChunk > 0) chunks.Add(new ChunkSpec(input, chunkDirectory, chunks.Count, start, pos - start, firstLine, inChunk));
        return chunks.ToArray();
    }

    public static async Task<EncodeJobResult> RunAsync(IGrainFactory grains, string input, string output, EncodeJobOptions options,
        IProgress<EncodeJobStatus>? progress = null, CancellationToken cancellationToken = default)
    {
        input = Path.GetFullPath(input);
        output = Path.GetFullPath(output);
        if (!File.Exists(input)) throw new SemblanceException($"{input}: no such file");
        // Our own output of an earlier (interrupted) run is resumed; anything else in the directory is refused.
        OutputDirectory.Claim(output, EncodeOutput.Kind, replace: true, "");
        var spec = new EncodeJobSpec(input, output, new FileInfo(input).Length, Split(input, Path.Combine(output, "chunks"), options.ChunkLines));
        var job = grains.GetGrain<IEncodeJob>(output);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.Timeout);
        var token = deadline.Token;
        async Task Start()
        {
            if ((await job.Start(spec)).Error is { } error) throw new SemblanceException(error);
        }
        await Retry(Start, token, rethrowUserErrors: true);
        int attempt = 0;
        async Task Work(int slot)
        {
            while (true)
            {
                token.ThrowIfCancellationRequested();
                // Start again before each lease: a job grain that moved and lost its storage learns the spec back.
                var lease = await Retry(async () => { await Start(); return await job.Lease(options.LeaseDuration); }, token, rethrowUserErrors: true);
                if (lease.Chunk is not { } chunk)
                {
                    if (lease.Done) return;
                    await Task.Delay(200, token);
                    continue;
                }
                // Workers hold no state: a fresh key per attempt lets placement pick the least-loaded live silo.
                var worker = grains.GetGrain<IEncoderWorker>(Interlocked.Increment(ref attempt));
                try
                {
                    var result = await worker.EncodeChunk(chunk).WaitAsync(options.LeaseDuration, token);
                    await job.Commit(result);
                    progress?.Report(await Retry(job.Status, token, rethrowUserErrors: false));
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    // Hand the chunk back so a resumed run need not wait for the lease to expire.
                    try { await job.Release(chunk.Index).WaitAsync(TimeSpan.FromSeconds(5)); } catch (Exception) { }
                    throw;
                }
                catch (Exception e) when (!token.IsCancellationRequested && e is not InputFormatException)
                {
                    try { await job.Release(chunk.Index); } catch (Exception) when (!token.IsCancellationRequested) { }
                    await Task.Delay(500, token);
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, options.Parallel)).Select(Work));
        return await Retry(job.Finish, token, rethrowUserErrors: true);
    }

    /// <summary>How many times a call to the job grain is retried (every 500 ms) while its silo is being replaced.</summary>
    public const int MaxRetries = 240;

    /// <summary>Retries a call to the job grain while its silo is being replaced; user errors (SemblanceException) are final.</summary>
    private static async Task<T> Retry<T>(Func<Task<T>> call, CancellationToken token, bool rethrowUserErrors)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (SemblanceException) when (rethrowUserErrors)
            {
                throw;
            }
            catch (Exception) when (!token.IsCancellationRequested && attempt < MaxRetries)
            {
                await Task.Delay(500, token);
            }
        }
    }

    private static Task Retry(Func<Task> call, CancellationToken token, bool rethrowUserErrors) =>
        Retry(async () => { await call(); return true; }, token, rethrowUserErrors);
}
