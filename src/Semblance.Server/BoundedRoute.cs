// A route that runs one request at a time on its model (rerank, generate): a bounded queue of waiting work units
// (429 + Retry-After past the capacity), one gate, the work off the request thread.
namespace Semblance.Server;

internal sealed class BoundedRoute(int capacity) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private int _queued;

    /// <summary>
    /// Reserves <paramref name="units"/> places (a request is always admitted to an empty queue, however large; else
    /// 429 when it would pass the capacity, naming what is <paramref name="waiting"/>), waits for the gate and runs
    /// <paramref name="work"/> on the thread pool.
    /// </summary>
    public async Task<T> RunAsync<T>(int units, string waiting, Func<T> work, CancellationToken cancellationToken)
    {
        Admit(units, waiting);
        try
        {
            await _gate.WaitAsync(cancellationToken);
            try
            {
                return await Task.Run(work, cancellationToken);
            }
            finally
            {
                _gate.Release();
            }
        }
        finally
        {
            Interlocked.Add(ref _queued, -units);
        }
    }

    private void Admit(int units, string waiting)
    {
        while (true)
        {
            int q = Volatile.Read(ref _queued);
            if (q > 0 && q + units > capacity)
                throw new ApiException(429, $"the server is busy: {q} {waiting} and the queue holds {capacity}; retry later",
                    "rate_limit_error", null, "queue_full") { RetryAfterSeconds = 1 };
            if (Interlocked.CompareExchange(ref _queued, q + units, q) == q) return;
        }
    }

    public void Dispose() => _gate.Dispose();
}
