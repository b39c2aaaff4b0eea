// Fixed-size worker group that partitions the big loops (GEMM tiles, batch rows, attention heads).
using System.Runtime.ExceptionServices;

namespace Semblance.Numerics;

/// <summary>
/// How many threads a computation may use. Results never depend on this: every kernel gives each output
/// element to exactly one thread and fixes its summation order independently of the partition.
/// </summary>
/// <remarks>
/// A context with <c>threads</c> &gt; 1 owns <c>threads − 1</c> persistent background workers; the thread that
/// calls <see cref="For"/> is the remaining one. A forward pass dispatches on the order of a hundred parallel
/// regions, so workers spin for a short while after each region (a dispatch then costs a cache-line
/// handoff, not a kernel wake-up) and only then block. A call made while the context is already running a
/// region (nested, or from another thread) runs serially on its caller instead of waiting. Dispose the
/// context to end its workers; <see cref="Single"/> owns none and ignores Dispose.
/// </remarks>
public sealed class ComputeContext : IDisposable
{
    // About 0.1 ms of polling (measured: SpinWait(8) ≈ 0.2 µs here) before a worker or the caller gives up its
    // core, longer than the serial gaps between the regions of a forward pass; the poll yields now and then
    // so an oversubscribed machine still runs the thread that has the work.
    private const int SpinIterations = 600;
    private const int YieldEvery = 64;

    private readonly Thread[] _workers;
    private readonly object _gate = new();

    private Action<int>? _body;
    private int _count;
    private int _next;
    private int _generation;
    private int _open;
    private int _active;
    private int _sleepingWorkers;
    private int _callerSleeping;
    private int _busy;
    private volatile bool _disposed;
    private ExceptionDispatchInfo? _error;

    public ComputeContext(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be at least 1");
        Threads = threads;
        _workers = new Thread[threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"Semblance compute {i + 1}/{threads}" };
            _workers[i].Start();
        }
    }

    public int Threads { get; }

    public static ComputeContext Single { get; } = new(1);

    /// <summary>A context with one thread per logical processor.</summary>
    public static ComputeContext CreateDefault() => new(Environment.ProcessorCount);

    /// <summary>Runs body(i) for i in [0, count), spread over at most <see cref="Threads"/> threads.</summary>
    /// <remarks>Items are handed out dynamically, so body must not depend on which thread runs which item.</remarks>
    public void For(int count, Action<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (count <= 0) return;
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_workers.Length == 0 || count == 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        try
        {
            _body = body;
            _count = count;
            _error = null;
            Volatile.Write(ref _next, 0);
            int generation = _generation + 1;
            Volatile.Write(ref _open, generation);
            Interlocked.Exchange(ref _generation, generation);
            if (Volatile.Read(ref _sleepingWorkers) > 0)
                lock (_gate) Monitor.PulseAll(_gate);
            RunItems();
            // Close the region, then wait only for workers that joined it: a worker that has not been scheduled
            // yet finds the region closed and never touches this job, so it cannot delay the caller.
            Interlocked.Exchange(ref _open, 0);
            WaitForJoinedWorkers();
            _body = null;
            _error?.Throw();
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    public void Dispose()
    {
        if (_workers.Length == 0 || _disposed) return;
        _disposed = true;
        Interlocked.Increment(ref _generation);
        lock (_gate) Monitor.PulseAll(_gate);
        foreach (var w in _workers) w.Join();
    }

    private void RunItems()
    {
        var body = _body!;
        int count = _count;
        while (true)
        {
            int i = Interlocked.Increment(ref _next) - 1;
            if (i >= count) return;
            try
            {
                body(i);
            }
            catch (Exception e)
            {
                lock (_gate) _error ??= ExceptionDispatchInfo.Capture(e);
                Volatile.Write(ref _next, count);
                return;
            }
        }
    }

    private void WaitForJoinedWorkers()
    {
        for (int spin = 1; spin <= SpinIterations; spin++)
        {
            if (Volatile.Read(ref _active) == 0) return;
            Pause(spin);
        }
        lock (_gate)
        {
            // The flag and the counter are both full-fence updates, so either the last worker sees the flag
            // and pulses under the lock, or this thread sees the counter at zero: no lost wake-up.
            Interlocked.Exchange(ref _callerSleeping, 1);
            while (Volatile.Read(ref _active) != 0) Monitor.Wait(_gate);
            Interlocked.Exchange(ref _callerSleeping, 0);
        }
    }

    private void WorkerLoop()
    {
        int seen = 0;
        while (true)
        {
            int generation = AwaitGeneration(seen);
            if (_disposed) return;
            seen = generation;
            // Join, then check the region is still open; paired with the caller's close-then-check of _active
            // (both full fences), either this worker backs out or the caller waits for it.
            Interlocked.Increment(ref _active);
            if (Volatile.Read(ref _open) == generation) RunItems();
            if (Interlocked.Decrement(ref _active) == 0 && Volatile.Read(ref _callerSleeping) != 0)
                lock (_gate) Monitor.PulseAll(_gate);
        }
    }

    private static void Pause(int spin)
    {
        if (spin % YieldEvery == 0) Thread.Yield();
        else Thread.SpinWait(8);
    }

    private int AwaitGeneration(int seen)
    {
        for (int spin = 1; spin <= SpinIterations; spin++)
        {
            int g = Volatile.Read(ref _generation);
            if (g != seen) return g;
            Pause(spin);
        }
        lock (_gate)
        {
            Interlocked.Increment(ref _sleepingWorkers);
            int g;
            while ((g = Volatile.Read(ref _generation)) == seen) Monitor.Wait(_gate);
            Interlocked.Decrement(ref _sleepingWorkers);
            return g;
        }
    }
}
