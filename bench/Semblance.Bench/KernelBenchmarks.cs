// BenchmarkDotNet suite for the per-token kernels: GELU, LayerNorm and one attention head.
using BenchmarkDotNet.Attributes;
using Semblance.Numerics;

namespace Semblance.Bench;

public class KernelBenchmarks
{
    private float[] _x = [], _y = [], _gamma = [], _beta = [], _qkv = [], _attention = [], _scores = [];

    /// <summary>Tokens × hidden for the element-wise kernels; sequence length for attention.</summary>
    [Params(128, 512)]
    public int Tokens { get; set; }

    private const int Hidden = 768, HeadDim = 64;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(7);
        _x = Enumerable.Range(0, Tokens * 4 * Hidden).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
        _y = new float[_x.Length];
        _gamma = Enumerable.Repeat(1.1f, Hidden).ToArray();
        _beta = Enumerable.Repeat(0.1f, Hidden).ToArray();
        _qkv = Enumerable.Range(0, Tokens * 3 * Hidden).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        _attention = new float[Tokens * Hidden];
        _scores = new float[Tokens * Tokens];
    }

    /// <summary>GELU over a tokens × 3072 FFN activation.</summary>
    [Benchmark]
    public void Gelu() => Kernels.Gelu(_x, _y);

    [Benchmark]
    public void LayerNorm() => Kernels.LayerNorm(_x.AsSpan(0, Tokens * Hidden), _gamma, _beta, 1e-12f, _y, Tokens, Hidden);

    /// <summary>One head (d = 64) of self-attention over one sequence of length Tokens.</summary>
    [Benchmark]
    public void AttentionHead() =>
        Attention.Head(_qkv, 3 * Hidden, Tokens, _qkv.AsSpan(Hidden), _qkv.AsSpan(2 * Hidden), 3 * Hidden, Tokens, HeadDim, 0.125f, _scores, _attention, Hidden);
}
