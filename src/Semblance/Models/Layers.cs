// Building blocks shared by the encoders: Linear (packed weight), LayerNorm and the feed-forward activation.
using Semblance.Numerics;

namespace Semblance.Models;

/// <summary>y = x·Wᵀ + b with W stored [out, in] in the checkpoint and packed once at load.</summary>
internal sealed class Linear
{
    private readonly PackedWeight _weight;
    private readonly FloatTensor _bias;

    private Linear(PackedWeight weight, FloatTensor bias)
    {
        _weight = weight;
        _bias = bias;
    }

    public int OutFeatures => _weight.OutFeatures;

    public int InFeatures => _weight.InFeatures;

    public static Linear Load(WeightView w, int outFeatures, int inFeatures)
    {
        var weight = w.Get("weight", outFeatures, inFeatures);
        var bias = w.Get("bias", outFeatures);
        return new Linear(PackedWeight.Pack(weight.Span, outFeatures, inFeatures), bias);
    }

    /// <summary>
    /// One Linear computing several that read the same input (query, key, value): their weights stacked along the
    /// output dimension, so one GEMM pass replaces three.
    /// </summary>
    public static Linear Fuse(string name, int inFeatures, params (WeightView View, int OutFeatures)[] parts)
    {
        int total = 0;
        var loaded = new List<(FloatTensor Weight, FloatTensor Bias)>();
        foreach (var (view, outFeatures) in parts)
        {
            var weight = view.Get("weight", outFeatures, inFeatures);
            loaded.Add((weight, view.Get("bias", outFeatures)));
            total += outFeatures;
        }
        var stacked = new float[total * inFeatures];
        var bias = new float[total];
        int row = 0;
        foreach (var (weight, b) in loaded)
        {
            weight.Span.CopyTo(stacked.AsSpan(row * inFeatures));
            b.Span.CopyTo(bias.AsSpan(row));
            row += weight.Shape[0];
        }
        return new Linear(PackedWeight.Pack(stacked, total, inFeatures), new FloatTensor(name + ".bias", [total], bias));
    }

    public void Forward(ReadOnlySpan<float> x, int rows, Span<float> y, ComputeContext ctx) =>
        Gemm.Linear(x, rows, _weight, _bias.Span, y, ctx);

    /// <summary>y = activation(x·Wᵀ + b), the activation applied in the product's epilogue while the tile is in cache.</summary>
    public void Forward(ReadOnlySpan<float> x, int rows, Numerics.Activation activation, Span<float> y, ComputeContext ctx) =>
        Gemm.Linear(x, rows, _weight, _bias.Span, activation, y, ctx);

    /// <summary>y = (x·Wᵀ + b) + residual, the skip connection added in the product's epilogue.</summary>
    public void Forward(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> residual, Span<float> y, ComputeContext ctx) =>
        Gemm.Linear(x, rows, _weight, _bias.Span, residual[..(rows * OutFeatures)], y, ctx);
}

/// <summary>y = (x − μ)/√(σ² + eps)·γ + β over the last dimension.</summary>
internal sealed class LayerNorm
{
    private readonly FloatTensor _weight;
    private readonly FloatTensor _bias;
    private readonly float _eps;

    private LayerNorm(FloatTensor weight, FloatTensor bias, float eps)
    {
        _weight = weight;
        _bias = bias;
        _eps = eps;
    }

    public int Size => _weight.Length;

    public static LayerNorm Load(WeightView w, int size, double eps) =>
        new(w.Get("weight", size), w.Get("bias", size), (float)eps);

    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, ComputeContext ctx) =>
        Kernels.LayerNorm(x[..(rows * Size)], _weight.Span, _bias.Span, _eps, y[..(rows * Size)], rows, Size, ctx);
}

internal static class Activation
{
    /// <summary>The GEMM epilogue's name for <paramref name="kind"/>.</summary>
    public static Numerics.Activation ToEpilogue(HiddenActivation kind) => kind switch
    {
        HiddenActivation.Gelu => Numerics.Activation.Gelu,
        HiddenActivation.GeluTanh => Numerics.Activation.GeluTanh,
        HiddenActivation.Relu => Numerics.Activation.Relu,
        HiddenActivation.Tanh => Numerics.Activation.Tanh,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
