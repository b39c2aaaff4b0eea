// Tape pooling of packed token rows into one vector per sequence: mean, [CLS] (first row), first-last-avg.
using System.Numerics.Tensors;

namespace Semblance.Training.Autodiff;

public sealed partial class Tape
{
    /// <summary>Σ_t h[t] / T over each sequence's rows → [sequences, H] (every packed row is a real token).</summary>
    public Tensor MeanPool(Tensor x, int[] offsets)
    {
        int sequences = offsets.Length - 1, cols = x.Cols;
        var y = new float[sequences * cols];
        for (int s = 0; s < sequences; s++)
        {
            int t = offsets[s + 1] - offsets[s];
            if (t == 0) throw new ArgumentException($"MeanPool: sequence {s} is empty", nameof(offsets));
            var dst = y.AsSpan(s * cols, cols);
            for (int r = offsets[s]; r < offsets[s + 1]; r++) TensorPrimitives.Add(dst, x.Row(r), dst);
            TensorPrimitives.Divide(dst, t, dst);
        }
        var result = new Tensor(y, sequences, cols, Tracks(x));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                var gx = x.GradBuffer();
                for (int s = 0; s < sequences; s++)
                {
                    float share = 1f / (offsets[s + 1] - offsets[s]);
                    var src = g.AsSpan(s * cols, cols);
                    for (int r = offsets[s]; r < offsets[s + 1]; r++)
                    {
                        var dst = gx.AsSpan(r * cols, cols);
                        TensorPrimitives.MultiplyAdd(src, share, dst, dst);
                    }
                }
            });
        return result;
    }

    /// <summary>The first row of each sequence ([CLS]) → [sequences, H].</summary>
    public Tensor FirstTokenPool(Tensor x, int[] offsets)
    {
        int sequences = offsets.Length - 1, cols = x.Cols;
        var y = new float[sequences * cols];
        for (int s = 0; s < sequences; s++)
        {
            if (offsets[s + 1] == offsets[s]) throw new ArgumentException($"FirstTokenPool: sequence {s} is empty", nameof(offsets));
            x.Row(offsets[s]).CopyTo(y.AsSpan(s * cols, cols));
        }
        var result = new Tensor(y, sequences, cols, Tracks(x));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                var gx = x.GradBuffer();
                for (int s = 0; s < sequences; s++)
                {
                    var dst = gx.AsSpan(offsets[s] * cols, cols);
                    TensorPrimitives.Add(dst, g.AsSpan(s * cols, cols), dst);
                }
            });
        return result;
    }

    /// <summary>BERT-whitening's first-last-avg: mean over tokens of (h_first_layer + h_last)/2.</summary>
    public Tensor FirstLastAveragePool(Tensor firstLayer, Tensor last, int[] offsets) =>
        Scale(Add(MeanPool(firstLayer, offsets), MeanPool(last, offsets)), 0.5f);
}
