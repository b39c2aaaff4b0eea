// Quick GFLOPS measurement of Gemm.Linear for one shape, for tuning and for `semblance`-style diagnostics.
using System.Diagnostics;

namespace Semblance.Numerics;

/// <summary>Timing of y[m, n] = x[m, k]·Wᵀ: best and median over samples; GFLOPS count 2·m·k·n per call.</summary>
public sealed record GemmProbeResult(int M, int K, int N, int Threads, int Samples, int CallsPerSample, double BestSeconds, double MedianSeconds)
{
    public double BestGflops => 2.0 * M * K * N / BestSeconds * 1e-9;
    public double MedianGflops => 2.0 * M * K * N / MedianSeconds * 1e-9;

    public override string ToString() =>
        $"m={M,4} k={K,4} n={N,4} threads={Threads}: best {BestGflops,6:F1} GFLOPS ({BestSeconds * 1e6:F1} us), median {MedianGflops,6:F1} GFLOPS, {Samples} samples x {CallsPerSample} calls";
}

public static class GemmProbe
{
    /// <summary>Runs Linear on random data for about <paramref name="seconds"/> (after a warm-up) and reports per-call times.</summary>
    public static GemmProbeResult Measure(int m, int k, int n, int threads, double seconds)
    {
        if (m < 1 || k < 1 || n < 1) throw new ArgumentException($"shape must be positive, got m={m} k={k} n={n}");
        if (seconds <= 0) throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "seconds must be positive");
        var rng = new Random(1234);
        var x = new float[m * k];
        var w = new float[n * k];
        var bias = new float[n];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < bias.Length; i++) bias[i] = (float)(rng.NextDouble() * 2 - 1);
        var packed = PackedWeight.Pack(w, n, k);
        var y = new float[m * n];
        using var ctx = new ComputeContext(threads);

        var clock = Stopwatch.StartNew();
        int warm = 0;
        while (clock.Elapsed.TotalSeconds < Math.Min(0.2, seconds / 4) || warm < 3)
        {
            Gemm.Linear(x, m, packed, bias, y, ctx);
            warm++;
        }
        double perCall = clock.Elapsed.TotalSeconds / warm;
        int calls = Math.Max(1, (int)(0.002 / perCall));
        var samples = new List<double>();
        clock.Restart();
        while (clock.Elapsed.TotalSeconds < seconds || samples.Count < 5)
        {
            long start = Stopwatch.GetTimestamp();
            for (int c = 0; c < calls; c++) Gemm.Linear(x, m, packed, bias, y, ctx);
            samples.Add(Stopwatch.GetElapsedTime(start).TotalSeconds / calls);
        }
        samples.Sort();
        return new GemmProbeResult(m, k, n, threads, samples.Count, calls, samples[0], samples[samples.Count / 2]);
    }
}
