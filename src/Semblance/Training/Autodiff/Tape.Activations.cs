// Tape element-wise activations: GELU (erf and tanh forms), ReLU, tanh, sigmoid.
using System.Numerics.Tensors;
using Semblance.Models;
using Semblance.Numerics;

namespace Semblance.Training.Autodiff;

public sealed partial class Tape
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
        Kernels.Gelu(x.Data, y);
        var result = new Tensor(y, x.Rows, x.Cols, Tracks(x));
        if (result.RequiresGrad)
            Record(() =>
            {
                if (result.Grad is not { } g) return;
                GeluBackward(x.Data, g, x.GradBuffer());
            });
        return result;
    }

    /// <summary>
    /// gx += g·(½(1 + erf(x/√2)) + x·e^{−x²/2}/√(2π)), in vector passes over blocks that stay in L1 (one pass over
    /// x, g and gx in memory instead of ten over full-size temporaries).
    /// </summary>
    private static void GeluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> gx)
    {
        const int block = 1024;
        Span<float> d = stackalloc float[block];
        Span<float> density = stackalloc float[block];
        for (int i0 = 0; i0 < x.Length; i0 += block)
        {
            int n = Math.Min(block, x.Length - i0);
            var xs = x.Slice(i0, n);
            var ds = d[..n];
            var es = density[..n];
            TensorPrimitives.Multiply(xs, InvSqrt2, ds);
            Kernels.Erf(ds, ds);
            TensorPrimitives.Multiply(ds, 0.5f, ds);
            TensorPrimitives.Add(ds, 0.5f, ds);
            TensorPrimitives.Multiply(xs, xs, es);
            TensorPrimitives.Multiply(es, -0.5f, es);
            TensorPrimitives.Exp(es, es);
            TensorPrimitives.Multiply(es, xs, es);
            TensorPrimitives.MultiplyAdd(es, InvSqrt2Pi, ds, ds);
            var dst = gx.Slice(i0, n);
            TensorPrimitives.MultiplyAdd(g.Slice(i0, n), ds, dst, dst);
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
            Record(() =>
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
