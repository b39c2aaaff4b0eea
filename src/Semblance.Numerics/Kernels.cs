// Element-wise and row-wise kernels of the encoders; models never loop over floats themselves.
using System.Numerics.Tensors;

namespace Semblance.Numerics;

public static class Kernels
{
    /// <summary>Row-wise LayerNorm over rows of length <paramref name="cols"/>: y = (x − μ)/√(σ² + eps)·γ + β.</summary>
    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps, Span<float> y, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * cols, cols);
            var yr = y.Slice(r * cols, cols);
            float mean = TensorPrimitives.Sum(xr) / cols;
            double var = 0;
            for (int i = 0; i < cols; i++) { double d = xr[i] - mean; var += d * d; }
            float inv = (float)(1.0 / Math.Sqrt(var / cols + eps));
            for (int i = 0; i < cols; i++) yr[i] = (xr[i] - mean) * inv * gamma[i] + beta[i];
        }
    }

    /// <summary>Exact GELU: 0.5·x·(1 + erf(x/√2)).</summary>
    public static void Gelu(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            y[i] = (float)(0.5 * v * (1.0 + Erf(v / Math.Sqrt(2.0))));
        }
    }

    /// <summary>Tanh-approximated GELU ("gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    public static void GeluTanh(ReadOnlySpan<float> x, Span<float> y)
    {
        const double c = 0.7978845608028654;
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            y[i] = (float)(0.5 * v * (1.0 + Math.Tanh(c * (v + 0.044715 * v * v * v))));
        }
    }

    public static void Relu(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Max(x, 0f, y);

    public static void Tanh(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Tanh(x, y);

    /// <summary>In-place softmax of each row of length <paramref name="cols"/>, over its first <paramref name="valid"/> entries; the rest become 0.</summary>
    public static void SoftmaxRows(Span<float> x, int rows, int cols, int valid)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * cols, cols);
            var live = row[..valid];
            float max = TensorPrimitives.Max(live);
            TensorPrimitives.Subtract(live, max, live);
            TensorPrimitives.Exp(live, live);
            float sum = TensorPrimitives.Sum(live);
            TensorPrimitives.Divide(live, sum, live);
            row[valid..].Clear();
        }
    }

    /// <summary>erf to double precision (Numerical Recipes' erfc Chebyshev fit, |error| &lt; 1.2e-7 relative).</summary>
    internal static double Erf(double x)
    {
        double z = Math.Abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
            t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? 1.0 - r : r - 1.0;
    }
}
