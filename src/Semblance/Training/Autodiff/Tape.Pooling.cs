// Pooling on the tape: the forward is Embeddings.Pooling's (the one definition inference runs), plus its gradient.
using System.Numerics.Tensors;
using Semblance.Embeddings;

namespace Semblance.Training.Autodiff;

internal sealed partial class Tape
{
    /// <summary>
    /// One vector per sequence, [sequences, H], computed by <see cref="Pooling.PoolRows"/>; <paramref name="first"/> (the
    /// first layer's output) is read by first-last-avg only. Gradients: mean spreads g/T over the rows, cls and max send
    /// g to the chosen row (max: the first row holding the maximum), first-last-avg sends g/(2T) to both layers.
    /// </summary>
    public Tensor Pool(PoolingMode mode, Tensor? first, Tensor last, int[] offsets)
    {
        if (mode == PoolingMode.FirstLastAvg && first is null) throw new ArgumentNullException(nameof(first), "first-last-avg needs the first layer's output");
        if (Pooling.UsesPoolerLayer(mode)) throw new SemblanceException($"pooling '{Pooling.Format(mode)}' is the model's pooler layer, not a pooling of token rows");
        int sequences = offsets.Length - 1, cols = last.Cols;
        var y = new float[sequences * cols];
        Pooling.PoolRows(mode, first is null ? default : first.Data, last.Data, offsets, cols, y);
        var inputs = mode == PoolingMode.FirstLastAvg ? new[] { first!, last } : [last];
        var result = new Tensor(y, sequences, cols, inputs.Any(t => Tracks(t)));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                foreach (var input in inputs)
                {
                    if (!input.RequiresGrad) continue;
                    var gx = input.GradBuffer();
                    for (int s = 0; s < sequences; s++)
                    {
                        var src = g.AsSpan(s * cols, cols);
                        int start = offsets[s], length = offsets[s + 1] - start;
                        switch (mode)
                        {
                            case PoolingMode.Cls:
                                TensorPrimitives.Add(gx.AsSpan(start * cols, cols), src, gx.AsSpan(start * cols, cols));
                                break;
                            case PoolingMode.Max:
                                for (int c = 0; c < cols; c++)
                                {
                                    int r = start;
                                    while (r < start + length - 1 && input.Data[r * cols + c] != y[s * cols + c]) r++;
                                    gx[r * cols + c] += src[c];
                                }
                                break;
                            default:
                                float share = mode == PoolingMode.FirstLastAvg ? 0.5f / length : 1f / length;
                                for (int r = start; r < start + length; r++)
                                    TensorPrimitives.MultiplyAdd(src, share, gx.AsSpan(r * cols, cols), gx.AsSpan(r * cols, cols));
                                break;
                        }
                    }
                }
            });
        return result;
    }
}
