// Quick GFLOPS measurement of Gemm.Linear for one shape, for tuning and for `semblance`-style diagnostics.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Semblance.Numerics;

/// <summary>Timing of y[m, n] = x[m, k]·Wᵀ: best and median over samples; GFLOPS count 2·m·k·n per call.</summary>
internal sealed record GemmProbeResult(int M, int K, int N, int Threads, int Samples, int CallsPerSample, double BestSeconds, double MedianSeconds)
{
    public double BestGflops => 2.0 * M * K * N / BestSeconds * 1e-9;
    public double MedianGflops => 2.0 * M * K * N / MedianSeconds * 1e-9;

    public override string ToString() =>
        $"m={M,4} k={K,4} n={N,4} threads={Threads}: best {BestGflops,6:F1} GFLOPS ({BestSeconds * 1e6:F1} us), median {MedianGflops,6:F1} GFLOPS, {Samples} samples x {CallsPerSample} calls";
}

internal static class GemmProbe
{
    /// <summary>Runs Linear on random data for about <paramref name="seconds"/> (after a warm-up) and reports per-call times.</summary>
    public static GemmProbeResult Measure(int m, int k, int n, int threads, double seconds, bool int8 = false)
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
        var packed = int8 ? null : PackedWeight.Pack(w, n, k);
        var quantized = int8 ? QuantizedWeight.Quantize(w, n, k) : null;
        var y = new float[m * n];
        using var ctx = new ComputeContext(threads);
        void Run()
        {
            if (quantized is not null) Gemm.Linear(x, m, quantized, bias, y, ctx);
            else Gemm.Linear(x, m, packed!, bias, y, ctx);
        }

        var clock = Stopwatch.StartNew();
        int warm = 0;
        while (clock.Elapsed.TotalSeconds < Math.Min(0.2, seconds / 4) || warm < 3)
        {
            Run();
            warm++;
        }
        double perCall = clock.Elapsed.TotalSeconds / warm;
        int calls = Math.Max(1, (int)(0.002 / perCall));
        var samples = new List<double>();
        clock.Restart();
        while (clock.Elapsed.TotalSeconds < seconds || samples.Count < 5)
        {
            long start = Stopwatch.GetTimestamp();
            for (int c = 0; c < calls; c++) Run();
            samples.Add(Stopwatch.GetElapsedTime(start).TotalSeconds / calls);
        }
        samples.Sort();
        return new GemmProbeResult(m, k, n, threads, samples.Count, calls, samples[0], samples[samples.Count / 2]);
    }

    /// <summary>
    /// The calling thread's FMA throughput in GFLOPS: 12 independent register-only FMA chains of the widest
    /// vector the kernels use, for about <paramref name="seconds"/>. The ceiling Linear's GFLOPS are measured against.
    /// </summary>
    public static double MeasureFmaPeak(double seconds)
    {
        if (seconds <= 0) throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "seconds must be positive");
        bool wide = Simd.Best == SimdLevel.Vector512;
        int flopsPerIteration = 12 * 2 * (wide ? 16 : 8);
        const long Iterations = 2_000_000;
        double best = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds || best == 0)
        {
            long start = Stopwatch.GetTimestamp();
            float sink = wide ? FmaChains512(Iterations) : FmaChains256(Iterations);
            double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (float.IsNaN(sink)) throw new InvalidOperationException("FMA chains diverged");
            best = Math.Max(best, Iterations * flopsPerIteration / elapsed * 1e-9);
        }
        return best;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float FmaChains512(long iterations)
    {
        var m = Vector512.Create(0.999f);
        var c = Vector512.Create(0.001f);
        Vector512<float> a0 = c, a1 = c * 2, a2 = c * 3, a3 = c * 4, a4 = c * 5, a5 = c * 6, a6 = c * 7, a7 = c * 8, a8 = c * 9, a9 = c * 10, a10 = c * 11, a11 = c * 12;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c); a2 = Vector512.FusedMultiplyAdd(a2, m, c);
            a3 = Vector512.FusedMultiplyAdd(a3, m, c); a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c); a8 = Vector512.FusedMultiplyAdd(a8, m, c);
            a9 = Vector512.FusedMultiplyAdd(a9, m, c); a10 = Vector512.FusedMultiplyAdd(a10, m, c); a11 = Vector512.FusedMultiplyAdd(a11, m, c);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float FmaChains256(long iterations)
    {
        var m = Vector256.Create(0.999f);
        var c = Vector256.Create(0.001f);
        Vector256<float> a0 = c, a1 = c * 2, a2 = c * 3, a3 = c * 4, a4 = c * 5, a5 = c * 6, a6 = c * 7, a7 = c * 8, a8 = c * 9, a9 = c * 10, a10 = c * 11, a11 = c * 12;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, c); a1 = Vector256.FusedMultiplyAdd(a1, m, c); a2 = Vector256.FusedMultiplyAdd(a2, m, c);
            a3 = Vector256.FusedMultiplyAdd(a3, m, c); a4 = Vector256.FusedMultiplyAdd(a4, m, c); a5 = Vector256.FusedMultiplyAdd(a5, m, c);
            a6 = Vector256.FusedMultiplyAdd(a6, m, c); a7 = Vector256.FusedMultiplyAdd(a7, m, c); a8 = Vector256.FusedMultiplyAdd(a8, m, c);
            a9 = Vector256.FusedMultiplyAdd(a9, m, c); a10 = Vector256.FusedMultiplyAdd(a10, m, c); a11 = Vector256.FusedMultiplyAdd(a11, m, c);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
