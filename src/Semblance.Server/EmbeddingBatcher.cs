// Dynamic batching: requests queue their texts; one worker thread gathers queued requests up to a token budget
// (waiting at most MaxBatchWait when idle) and encodes them in one call, so many small requests share a batch.
using System.Diagnostics;
using System.Threading.Channels;
using Semblance.Embeddings;

namespace Semblance.Server;

/// <summary>Un-normalised vectors of one request's texts (rows of <see cref="Dimension"/> floats) and the tokens they used.</summary>
internal readonly record struct EncodedTexts(ReadOnlyMemory<float> Vectors, int Dimension, long Tokens);

internal sealed class EmbeddingBatcher : IDisposable
{
    private readonly SentenceEncoder _encoder;
    private readonly EmbeddingServerOptions _options;
    private readonly ServerMetrics? _metrics;
    // Not SingleReader: a timed-out wait may still be pending when the next wait starts.
    private readonly Channel<Job> _queue = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Thread _worker;
    private int _queued;

    public EmbeddingBatcher(SentenceEncoder encoder, EmbeddingServerOptions options, ServerMetrics? metrics = null)
    {
        _encoder = encoder;
        _options = options;
        _metrics = metrics;
        _worker = new Thread(Run) { IsBackground = true, Name = "semblance-batcher" };
        _worker.Start();
    }

    /// <summary>Texts accepted but not yet encoded.</summary>
    public int QueueDepth => Volatile.Read(ref _queued);

    /// <summary>
    /// Queues texts for encoding. <paramref name="tokenCounts"/> (sequence lengths as the model will see them) size the
    /// batches and the usage report; when null the backend's own count is used and the request is encoded on its own.
    /// Throws <see cref="ApiException"/> 429 when the queue cannot take all texts, 503 once shutdown has begun.
    /// </summary>
    public Task<EncodedTexts> EncodeAsync(IReadOnlyList<string> texts, int[]? tokenCounts, CancellationToken cancellationToken)
    {
        int n = texts.Count;
        while (true)
        {
            int q = Volatile.Read(ref _queued);
            if (q + n > _options.QueueCapacity)
            {
                _metrics?.RecordRejected();
                throw new ApiException(429, $"the server is busy: {q} texts are queued and the queue holds {_options.QueueCapacity}; retry later",
                    "rate_limit_error", null, "queue_full") { RetryAfterSeconds = 1 };
            }
            if (Interlocked.CompareExchange(ref _queued, q + n, q) == q) break;
        }
        var job = new Job(texts, tokenCounts, cancellationToken);
        if (!_queue.Writer.TryWrite(job))
        {
            Interlocked.Add(ref _queued, -n);
            throw new ApiException(503, "the server is shutting down", "server_error", null, "shutting_down");
        }
        return job.Done.Task;
    }

    /// <summary>Stops accepting work; queued work is still encoded. Waits for the worker to finish it.</summary>
    public void Complete()
    {
        _queue.Writer.TryComplete();
        _worker.Join();
    }

    public void Dispose() => Complete();

    private void Run()
    {
        var reader = _queue.Reader;
        Job? carried = null;
        var batch = new List<Job>();
        while (true)
        {
            batch.Clear();
            long tokens = 0;
            if (carried is not null)
            {
                batch.Add(carried);
                tokens = carried.EstimatedTokens;
                carried = null;
            }
            else
            {
                if (!reader.TryRead(out var first))
                {
                    if (!reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult()) return;
                    continue;
                }
                batch.Add(first);
                tokens = first.EstimatedTokens;
            }
            // Requests without exact token counts (backends without a tokenizer) are encoded alone.
            if (batch[0].TokenCounts is not null)
            {
                var deadline = Stopwatch.GetTimestamp() + (long)(_options.MaxBatchWait.TotalSeconds * Stopwatch.Frequency);
                while (tokens < _options.MaxBatchTokens)
                {
                    if (reader.TryRead(out var next))
                    {
                        if (next.TokenCounts is null || tokens + next.EstimatedTokens > _options.MaxBatchTokens)
                        {
                            carried = next;
                            break;
                        }
                        batch.Add(next);
                        tokens += next.EstimatedTokens;
                        continue;
                    }
                    long remaining = deadline - Stopwatch.GetTimestamp();
                    if (remaining <= 0) break;
                    var wait = reader.WaitToReadAsync().AsTask();
                    if (!wait.Wait(TimeSpan.FromSeconds((double)remaining / Stopwatch.Frequency))) break;
                    if (!wait.Result) break;
                }
            }
            Encode(batch);
        }
    }

    private void Encode(List<Job> batch)
    {
        var live = new List<Job>(batch.Count);
        foreach (var job in batch)
        {
            Interlocked.Add(ref _queued, -job.Texts.Count);
            if (job.Cancellation.IsCancellationRequested) job.Done.TrySetCanceled(job.Cancellation);
            else live.Add(job);
        }
        if (live.Count == 0) return;
        int dim = _encoder.Dimension;
        int total = live.Sum(j => j.Texts.Count);
        try
        {
            var texts = new List<string>(total);
            foreach (var job in live) texts.AddRange(job.Texts);
            float[] vectors;
            long used;
            if (_options.RemoteEncoder is { } remote)
            {
                // The batch is encoded elsewhere; its tokens are the ones counted when the requests were admitted.
                vectors = remote(texts, CancellationToken.None).GetAwaiter().GetResult();
                if (vectors.LongLength != (long)total * dim)
                    throw new SemblanceException($"the remote encoder returned {vectors.LongLength} values for {total} texts of dimension {dim}: is it running the served model?");
                used = live.Sum(j => j.EstimatedTokens);
            }
            else
            {
                vectors = new float[(long)total * dim];
                long before = _encoder.TokensProcessed;
                _encoder.EncodeInto(texts, vectors, normalize: false);
                used = _encoder.TokensProcessed - before;
            }
            _metrics?.RecordBatch(total, used);
            int row = 0;
            foreach (var job in live)
            {
                int n = job.Texts.Count;
                long jobTokens = job.TokenCounts is null ? used : job.EstimatedTokens;
                job.Done.TrySetResult(new EncodedTexts(vectors.AsMemory(row * dim, n * dim), dim, jobTokens));
                row += n;
            }
        }
        catch (Exception e)
        {
            foreach (var job in live) job.Done.TrySetException(e);
        }
    }

    private sealed class Job
    {
        public Job(IReadOnlyList<string> texts, int[]? tokenCounts, CancellationToken cancellation)
        {
            Texts = texts;
            TokenCounts = tokenCounts;
            Cancellation = cancellation;
            long sum = 0;
            if (tokenCounts is not null) foreach (var c in tokenCounts) sum += c;
            else foreach (var t in texts) sum += t.Length / 4 + 2;
            EstimatedTokens = sum;
        }

        public IReadOnlyList<string> Texts { get; }
        public int[]? TokenCounts { get; }
        public CancellationToken Cancellation { get; }
        public long EstimatedTokens { get; }
        public TaskCompletionSource<EncodedTexts> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
