// `semblance bench gemm`: GFLOPS of the Linear-layer GEMM on encoder shapes, to compare with the machine's FMA peak.
using System.Globalization;
using Semblance.Numerics;

namespace Semblance.Cli.Commands;

public sealed class BenchGemmCommand : CliCommand
{
    public override string Name => "bench gemm";

    public override string Summary => "measure GEMM GFLOPS on encoder shapes (M x K x N = tokens x in x out)";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--shapes", "MxKxN[,...]", "shapes to time (default: M in 16,128,512 x 384x1536, 1536x384, 768x3072, 3072x768)"),
        new("--threads", "N[,N...]", "thread counts (default 1,2)"),
        new("--seconds", "S", "time per shape (default 1)"),
        new("--precision", "fp32|int8", "weights: float32 (default) or int8 (the int8 product; GFLOPS counts its multiply-adds as 2 ops)"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var shapes = args.GetList("--shapes").Select(ParseShape).ToList();
        if (shapes.Count == 0)
            foreach (int m in new[] { 16, 128, 512 })
                foreach (var (k, n) in new[] { (384, 1536), (1536, 384), (768, 3072), (3072, 768) })
                    shapes.Add((m, k, n));
        var threads = args.GetList("--threads").Select(t => int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : throw new UsageException($"--threads: '{t}' is not a positive integer")).ToList();
        if (threads.Count == 0) threads = [1, 2];
        double seconds = args.GetDouble("--seconds", 1, 0.05, 600);
        bool int8 = args.Choice("--precision", "fp32", "fp32", "int8") == "int8";
        io.Out.WriteLine("m\tk\tn\tthreads\tbest_gflops\tmedian_gflops");
        foreach (var (m, k, n) in shapes)
            foreach (var t in threads)
            {
                var r = GemmProbe.Measure(m, k, n, t, seconds, int8);
                io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{m}\t{k}\t{n}\t{t}\t{r.BestGflops:F1}\t{r.MedianGflops:F1}"));
                io.Out.Flush();
            }
        return 0;
    }

    private static (int M, int K, int N) ParseShape(string s)
    {
        var p = s.Split('x');
        if (p.Length != 3 || !p.All(x => int.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0))
            throw new UsageException($"--shapes: '{s}' is not MxKxN with positive integers");
        return (int.Parse(p[0], CultureInfo.InvariantCulture), int.Parse(p[1], CultureInfo.InvariantCulture), int.Parse(p[2], CultureInfo.InvariantCulture));
    }
}
