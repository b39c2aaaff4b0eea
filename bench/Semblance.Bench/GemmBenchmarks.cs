// BenchmarkDotNet suite for Gemm.Linear on the encoder shapes, with a GFLOPS column (2·M·K·N per call).
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Semblance.Numerics;

namespace Semblance.Bench;

[Config(typeof(GflopsConfig))]
public class GemmBenchmarks
{
    private float[] _x = [], _bias = [], _y = [];
    private PackedWeight? _w;
    private ComputeContext? _ctx;

    [Params(16, 128, 512)]
    public int M { get; set; }

    /// <summary>in×out of the layer: BERT-small/base attention output, FFN up and FFN down.</summary>
    [Params("384x1536", "1536x384", "768x3072", "3072x768")]
    public string Shape { get; set; } = "384x1536";

    [Params(1, 2)]
    public int Threads { get; set; }

    internal static (int K, int N) ParseShape(string shape)
    {
        var parts = shape.Split('x');
        return (int.Parse(parts[0]), int.Parse(parts[1]));
    }

    [GlobalSetup]
    public void Setup()
    {
        var (k, n) = ParseShape(Shape);
        var rng = new Random(42);
        _x = Enumerable.Range(0, M * k).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        _bias = Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        _w = PackedWeight.Pack(Enumerable.Range(0, n * k).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), n, k);
        _y = new float[M * n];
        _ctx = new ComputeContext(Threads);
    }

    [GlobalCleanup]
    public void Cleanup() => _ctx?.Dispose();

    [Benchmark]
    public void Linear() => Gemm.Linear(_x, M, _w!, _bias, _y, _ctx!);
}

/// <summary>Adds the GFLOPS column computed from the benchmark's M and Shape parameters.</summary>
public sealed class GflopsConfig : ManualConfig
{
    public GflopsConfig()
    {
        AddColumn(new GflopsColumn());
    }
}

public sealed class GflopsColumn : IColumn
{
    public string Id => nameof(GflopsColumn);
    public string ColumnName => "GFLOPS";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "2*M*K*N floating-point operations per call / mean time, in 1e9 per second";

    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        if (stats is null || benchmarkCase.Parameters["M"] is not int m || benchmarkCase.Parameters["Shape"] is not string shape) return "NA";
        var (k, n) = GemmBenchmarks.ParseShape(shape);
        return (2.0 * m * k * n / stats.Mean).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
    }
}
