// Tape element-wise activations: GELU (erf and tanh forms), ReLU, tanh, sigmoid.
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Semblance.Models;
using Semblance.Numerics;

namespace Semblance.Training.Autodiff;

internal sealed partial class Tape
{
    private const float InvSqrt2 = 0.70710678118654752f;
    private const float InvSqrt2Pi = 0.39894228040143268f;
    private const float GeluTanhC = 0.79788456080286536f;
    private const float GeluTanhA = 0.044715f;

    /// <summary>The feed-forward activation named by config.json's hidden_act.</summary>
    public Tensor Activation(Tensor x, HiddenActivation kind) => kind switch
    {
        HiddenActivation.Gelu => Gelu(x),
        HiddenActivation.GeluTanh => GeluTanh(x),
        HiddenActivation.Relu => Relu(x),
        HiddenActivation.Tanh => Tanh(x),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>x·Φ(x), Φ(x) = ½(1 + erf(x/√2)); derivative Φ(x) + x·φ(x).</summary>
    public Tensor Gelu(Tensor x)
    {
        var y = GC.AllocateUninitializedArray<float>(x.Length);
        ForRanges(x.Length, (start, count) => Kernels.Gelu(x.Data.AsSpan(start, count), y.AsSpan(start, count)));
        var result = new Tensor(y, x.Rows, x.Cols, Tracks(x));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                bool overwrite = x.GradIsZero;
                var gx = overwrite ? x.GradBufferToOverwrite() : x.GradBuffer();
                ForRanges(x.Length, (start, count) => GeluBackward(x.Data.AsSpan(start, count), y.AsSpan(start, count), g.AsSpan(start, count), gx.AsSpan(start, count), overwrite));
            });
        return result;
    }

    /// <summary>
    /// gx += g·(Φ(x) + x·e^{−x²/2}/√(2π)). Φ(x) is read back from the forward result as y/x (one division instead
    /// of an erf; near 0, where y/x loses digits, Φ(x) ≈ ½ + x/√(2π) to O(x³)), in one pass over memory.
    /// </summary>
    private static void GeluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> g, Span<float> gx, bool overwrite)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var half = Vector512.Create(0.5f);
            var c = Vector512.Create(InvSqrt2Pi);
            var tiny = Vector512.Create(1e-3f);
            for (; i + 16 <= x.Length; i += 16)
            {
                var xv = Vector512.Create(x.Slice(i, 16));
                var phi = Vector512.ConditionalSelect(Vector512.LessThan(Vector512.Abs(xv), tiny),
                    Vector512.FusedMultiplyAdd(xv, c, half), Vector512.Create(y.Slice(i, 16)) / xv);
                var density = Vector512.Exp(-half * xv * xv) * xv * c;
                var dst = gx.Slice(i, 16);
                var addend = overwrite ? Vector512<float>.Zero : Vector512.Create((ReadOnlySpan<float>)dst);
                Vector512.FusedMultiplyAdd(Vector512.Create(g.Slice(i, 16)), phi + density, addend).CopyTo(dst);
            }
        }
        for (; i < x.Length; i++)
        {
            float v = x[i];
            float phi = MathF.Abs(v) < 1e-3f ? MathF.FusedMultiplyAdd(v, InvSqrt2Pi, 0.5f) : y[i] / v;
            gx[i] = MathF.FusedMultiplyAdd(g[i], phi + MathF.Exp(-0.5f * v * v) * v * InvSqrt2Pi, overwrite ? 0f : gx[i]);
        }
    }

    /// <summary>½x(1 + tanh u), u = √(2/π)(x + 0.044715x³); derivative ½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²).</summary>
    public Tensor GeluTanh(Tensor x)
    {
        var y = new float[x.Length];
        Kernels.GeluTanh(x.Data, y);
        return Elementwise(x, y, (xs, ys, d) =>
        {
            for (int i = 0; i < xs.Length; i++)
            {
                float v = xs[i];
                float th = MathF.Tanh(GeluTanhC * (v + GeluTanhA * v * v * v));
                d[i] = 0.5f * (1f + th) + 0.5f * v * (1f - th * th) * GeluTanhC * (1f + 3f * GeluTanhA * v * v);
            }
        });
    }

    public Tensor Relu(Tensor x)
    {
        var y = new float[x.Length];
        Kernels.Relu(x.Data, y);
        return Elementwise(x, y, (xs, ys, d) =>
        {
            for (int i = 0; i < xs.Length; i++) d[i] = xs[i] > 0 ? 1f : 0f;
        });
    }

    /// <summary>tanh x; derivative 1 − y².</summary>
    public Tensor Tanh(Tensor x)
    {
        var y = new float[x.Length];
        Kernels.Tanh(x.Data, y);
        return Elementwise(x, y, (xs, ys, d) =>
        {
            for (int i = 0; i < ys.Length; i++) d[i] = 1f - ys[i] * ys[i];
        });
    }

    /// <summary>1/(1 + e^−x); derivative y(1 − y).</summary>
    public Tensor Sigmoid(Tensor x)
    {
        var y = new float[x.Length];
        TensorPrimitives.Sigmoid(x.Data, y);
        return Elementwise(x, y, (xs, ys, d) =>
        {
            for (int i = 0; i < ys.Length; i++) d[i] = ys[i] * (1f - ys[i]);
        });
    }

    /// <summary>Wraps y = f(x); <paramref name="derivative"/> fills f′ from (x, y) when the backward step runs.</summary>
    private Tensor Elementwise(Tensor x, float[] y, Action<float[], float[], float[]> derivative)
    {
        var result = new Tensor(y, x.Rows, x.Cols, Tracks(x));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                var d = new float[y.Length];
                derivative(x.Data, y, d);
                var gx = x.GradBuffer();
                TensorPrimitives.MultiplyAdd(g, d, gx, gx);
            });
        return result;
    }
}
