// Limits and batching knobs of the HTTP server; every limit has a finite default so no queue or body is unbounded.
namespace Semblance.Server;

/// <summary>Settings for <see cref="EmbeddingServer"/>. The defaults suit a small CPU model on a few cores.</summary>
public sealed record EmbeddingServerOptions
{
    /// <summary>Addresses Kestrel binds, e.g. <c>http://127.0.0.1:8080</c>; port 0 picks a free port.</summary>
    public IReadOnlyList<string> Urls { get; init; } = ["http://127.0.0.1:8080"];

    /// <summary>Name reported as <c>model</c> in responses and <c>model_id</c> in /info.</summary>
    public string ModelName { get; init; } = "semblance";

    /// <summary>Largest request body in bytes; larger bodies get 413.</summary>
    public long MaxBodyBytes { get; init; } = 8 << 20;

    /// <summary>Most texts in one request; more get 413 (OpenAI allows 2048).</summary>
    public int MaxInputsPerRequest { get; init; } = 2048;

    /// <summary>Most UTF-16 characters in one text; longer texts get 413.</summary>
    public int MaxCharsPerInput { get; init; } = 100_000;

    /// <summary>Texts waiting to be encoded, over all requests; a request that does not fit gets 429 with Retry-After.</summary>
    public int QueueCapacity { get; init; } = 4096;

    /// <summary>Token budget of one dynamic batch (sum of sequence lengths); a single larger request is run alone.</summary>
    public int MaxBatchTokens { get; init; } = 16384;

    /// <summary>How long an idle batcher waits for more requests after the first one arrives.</summary>
    public TimeSpan MaxBatchWait { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Most hits one /search request may ask for.</summary>
    public int MaxSearchK { get; init; } = 1000;

    /// <summary>Slowest accepted request body, in bytes per second after <see cref="BodyGracePeriod"/>; slower bodies get 408.</summary>
    public double MinBodyBytesPerSecond { get; init; } = 240;

    /// <summary>How long a request body may arrive slower than <see cref="MinBodyBytesPerSecond"/> before it is cut off.</summary>
    public TimeSpan BodyGracePeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long shutdown waits for in-flight requests to finish.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Runs the forward passes elsewhere (e.g. a cluster's encoder workers, <c>semblance serve --cluster</c>): the
    /// un-normalised rows of the texts, row-major. The served encoder still tokenizes, counts tokens and describes the
    /// model, so it must be the model the remote side loads. Null: the served encoder encodes.
    /// </summary>
    public Func<IReadOnlyList<string>, CancellationToken, Task<float[]>>? RemoteEncoder { get; init; }

    /// <summary>
    /// Answers <c>POST /search</c> elsewhere (e.g. a sharded index on a cluster): the top k hits of one query and the
    /// shards that did not answer (listed as <c>missing_shards</c>; empty means exact). Null: the served index answers.
    /// </summary>
    public Func<string, int, CancellationToken, Task<(IReadOnlyList<Semblance.Search.SearchHit> Hits, IReadOnlyList<int> MissingShards)>>? RemoteSearch { get; init; }

    internal void Validate()
    {
        if (Urls.Count == 0) throw new SemblanceException("server: at least one URL to listen on is required");
        if (MaxBodyBytes < 1024) throw new SemblanceException($"server: max body size {MaxBodyBytes} bytes is too small (expected at least 1024)");
        if (MaxInputsPerRequest < 1) throw new SemblanceException($"server: max inputs per request must be at least 1, got {MaxInputsPerRequest}");
        if (MaxCharsPerInput < 1) throw new SemblanceException($"server: max characters per input must be at least 1, got {MaxCharsPerInput}");
        if (QueueCapacity < MaxInputsPerRequest)
            throw new SemblanceException($"server: queue capacity {QueueCapacity} must be at least the inputs allowed per request ({MaxInputsPerRequest})");
        if (MaxBatchTokens < 1) throw new SemblanceException($"server: max batch tokens must be at least 1, got {MaxBatchTokens}");
        if (MaxBatchWait < TimeSpan.Zero || MaxBatchWait > TimeSpan.FromSeconds(1))
            throw new SemblanceException($"server: max batch wait {MaxBatchWait.TotalMilliseconds} ms is out of range (expected 0 to 1000 ms)");
        if (!(MinBodyBytesPerSecond > 0)) throw new SemblanceException($"server: minimum body data rate must be positive, got {MinBodyBytesPerSecond}");
        if (BodyGracePeriod <= TimeSpan.FromSeconds(1)) throw new SemblanceException($"server: body grace period must be more than 1 s, got {BodyGracePeriod.TotalSeconds} s");
        if (MaxSearchK < 1) throw new SemblanceException($"server: max search k must be at least 1, got {MaxSearchK}");
    }
}
