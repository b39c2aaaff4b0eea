// Benchmark entry point: `dotnet run -c Release --project bench/Semblance.Bench -- --filter '*'` (BenchmarkDotNet),
// or `-- probe [seconds] [m,k,n ...]` for a quick GFLOPS table of Gemm.Linear with 1 and 2 threads.
using System.Globalization;
using BenchmarkDotNet.Running;
using Semblance.Numerics;

if (args.Length > 0 && args[0] == "probe")
{
    double seconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 1.0;
    var shapes = args.Length > 2
        ? args[2..].Select(s => s.Split(',').Select(int.Parse).ToArray()).ToList()
        : (from m in new[] { 16, 128, 512 }
           from kn in new[] { (384, 1536), (1536, 384), (768, 3072), (3072, 768), (384, 1152), (768, 2304) }
           select new[] { m, kn.Item1, kn.Item2 }).ToList();
    Console.WriteLine($"FMA peak, one thread: {GemmProbe.MeasureFmaPeak(Math.Min(seconds, 0.5)):F1} GFLOPS");
    foreach (int threads in new[] { 1, 2 })
        foreach (var s in shapes)
            Console.WriteLine(GemmProbe.Measure(s[0], s[1], s[2], threads, seconds));
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
