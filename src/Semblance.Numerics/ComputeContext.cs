// Fixed-size worker group that partitions the big loops (GEMM tiles, batch rows, attention heads).
namespace Semblance.Numerics;

/// <summary>How many threads a computation may use. Results never depend on this beyond float rounding.</summary>
public sealed class ComputeContext
{
    public ComputeContext(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be at least 1");
        Threads = threads;
    }

    public int Threads { get; }

    public static ComputeContext Single { get; } = new(1);

    /// <summary>Runs body(i) for i in [0, count), spread over at most <see cref="Threads"/> threads.</summary>
    public void For(int count, Action<int> body)
    {
        if (count <= 0) return;
        if (Threads == 1 || count == 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        var options = new ParallelOptions { MaxDegreeOfParallelism = Threads };
        Parallel.For(0, count, options, body);
    }
}
