// Tape log-softmax and cross-entropy over the rows of a logit matrix.
using System.Numerics.Tensors;

namespace Semblance.Training.Autodiff;

internal sealed partial class Tape
{
    /// <summary>y[r, c] = x[r, c] − log Σ_j exp x[r, j]; backward dx = dy − softmax(x)·Σ_j dy[r, j].</summary>
    public Tensor LogSoftmax(Tensor x)
    {
        int rows = x.Rows, cols = x.Cols;
        var y = new float[x.Length];
        for (int r = 0; r < rows; r++)
        {
            float lse = LogSumExp(x.Row(r));
            TensorPrimitives.Subtract(x.Row(r), lse, y.AsSpan(r * cols, cols));
        }
        var result = new Tensor(y, rows, cols, Tracks(x));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                var gx = x.GradBuffer();
                for (int r = 0; r < rows; r++)
                {
                    var dy = g.AsSpan(r * cols, cols);
                    float sum = TensorPrimitives.Sum(dy);
                    for (int c = 0; c < cols; c++) gx[r * cols + c] += dy[c] - MathF.Exp(y[r * cols + c]) * sum;
                }
            });
        return result;
    }

    /// <summary>
    /// mean_r −log softmax(x_r)[targets[r]] → [1, 1]; backward dx_r = (softmax(x_r) − onehot(targets[r]))/rows.
    /// </summary>
    public Tensor CrossEntropy(Tensor logits, int[] targets)
    {
        int rows = logits.Rows, cols = logits.Cols;
        if (targets.Length != rows) throw new ArgumentException($"CrossEntropy: {targets.Length} targets for {rows} rows", nameof(targets));
        var probs = new float[logits.Length];
        double loss = 0;
        for (int r = 0; r < rows; r++)
        {
            if ((uint)targets[r] >= (uint)cols) throw new ArgumentOutOfRangeException(nameof(targets), targets[r], $"target outside {cols} classes");
            var row = logits.Row(r);
            float lse = LogSumExp(row);
            loss += lse - row[targets[r]];
            var p = probs.AsSpan(r * cols, cols);
            TensorPrimitives.Subtract(row, lse, p);
            TensorPrimitives.Exp(p, p);
        }
        var result = new Tensor([(float)(loss / rows)], 1, 1, Tracks(logits));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                var gx = logits.GradBuffer();
                float share = g[0] / rows;
                for (int r = 0; r < rows; r++)
                {
                    var dst = gx.AsSpan(r * cols, cols);
                    TensorPrimitives.MultiplyAdd(probs.AsSpan(r * cols, cols), share, dst, dst);
                    dst[targets[r]] -= share;
                }
            });
        return result;
    }

    /// <summary>log Σ exp x, shifted by the maximum so large logits (cosine/temperature) do not overflow.</summary>
    public static float LogSumExp(ReadOnlySpan<float> x)
    {
        float max = TensorPrimitives.Max(x);
        if (float.IsNegativeInfinity(max)) return max;
        double sum = 0;
        foreach (var v in x) sum += Math.Exp(v - max);
        return (float)(max + Math.Log(sum));
    }
}
