// ComputeContext: every index runs exactly once, errors surface on the caller, nesting and concurrent callers work.
using Semblance.Numerics;

namespace Semblance.Tests.Numerics;

public class ComputeContextTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void EveryIndexRunsExactlyOnceAcrossManyRegions(int threads)
    {
        using var ctx = new ComputeContext(threads);
        var counts = new int[257];
        for (int region = 0; region < 500; region++)
        {
            int count = 1 + region % counts.Length;
            ctx.For(count, i => Interlocked.Increment(ref counts[i]));
        }
        for (int i = 0; i < counts.Length; i++)
        {
            int expected = Enumerable.Range(0, 500).Count(r => 1 + r % counts.Length > i);
            Assert.Equal(expected, counts[i]);
        }
    }

    [Fact]
    public void WorkersActuallyShareTheWork()
    {
        using var ctx = new ComputeContext(2);
        var threadIds = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        using var bothArrived = new Barrier(2);
        // Each of the two items waits for the other, so they can only finish if two threads run them.
        ctx.For(2, _ =>
        {
            threadIds[Environment.CurrentManagedThreadId] = true;
            Assert.True(bothArrived.SignalAndWait(TimeSpan.FromSeconds(10)));
        });
        Assert.Equal(2, threadIds.Count);
    }

    [Fact]
    public void WorkersWakeUpAfterSleeping()
    {
        using var ctx = new ComputeContext(2);
        int sum = 0;
        ctx.For(10, i => Interlocked.Add(ref sum, i));
        Thread.Sleep(200);
        ctx.For(10, i => Interlocked.Add(ref sum, i));
        Assert.Equal(90, sum);
    }

    [Fact]
    public void ExceptionInBodyReachesTheCaller()
    {
        using var ctx = new ComputeContext(3);
        var e = Assert.Throws<InvalidOperationException>(() => ctx.For(100, i =>
        {
            if (i == 37) throw new InvalidOperationException("item 37");
        }));
        Assert.Equal("item 37", e.Message);
        int ran = 0;
        ctx.For(50, _ => Interlocked.Increment(ref ran));
        Assert.Equal(50, ran);
    }

    [Fact]
    public async Task NestedAndConcurrentCallsComplete()
    {
        using var ctx = new ComputeContext(2);
        int inner = 0;
        ctx.For(8, _ => ctx.For(8, _ => Interlocked.Increment(ref inner)));
        Assert.Equal(64, inner);

        int concurrent = 0;
        var callers = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (int r = 0; r < 200; r++) ctx.For(16, _ => Interlocked.Increment(ref concurrent));
        })).ToArray();
        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(4 * 200 * 16, concurrent);
    }

    [Fact]
    public void SeveralContextsCoexistAndDisposeCleanly()
    {
        var contexts = Enumerable.Range(1, 4).Select(t => new ComputeContext(t)).ToArray();
        long total = 0;
        Parallel.ForEach(contexts, ctx =>
        {
            for (int r = 0; r < 100; r++) ctx.For(32, i => Interlocked.Add(ref total, i));
        });
        Assert.Equal(4L * 100 * (31 * 32 / 2), total);
        foreach (var ctx in contexts) ctx.Dispose();
        Assert.Throws<ObjectDisposedException>(() => contexts[1].For(4, _ => { }));
        contexts[1].Dispose();
    }

    [Fact]
    public void SingleIgnoresDisposeAndRejectsBadThreadCounts()
    {
        ComputeContext.Single.Dispose();
        int ran = 0;
        ComputeContext.Single.For(3, _ => ran++);
        Assert.Equal(3, ran);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ComputeContext(0));
    }
}
