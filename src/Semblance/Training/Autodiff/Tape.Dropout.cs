// Tape dropout on token rows: inverted dropout with masks keyed per row (see DropoutMask).
namespace Semblance.Training.Autodiff;

public sealed partial class Tape
{
    /// <summary>
    /// y = x·mask/(1 − p), element (r, c) dropped when <see cref="DropoutMask.Dropped"/>(rowKeys[r], site, c).
    /// Identity (the same tensor) when p = 0 or no keys are given (evaluation mode).
    /// </summary>
    public Tensor Dropout(Tensor x, float p, ulong[]? rowKeys, int site)
    {
        if (p <= 0f || rowKeys is null) return x;
        if (p >= 1f) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be below 1");
        if (rowKeys.Length != x.Rows) throw new ArgumentException($"Dropout: {rowKeys.Length} row keys for {x.Rows} rows", nameof(rowKeys));
        int cols = x.Cols;
        float keep = 1f / (1f - p);
        var mask = new float[x.Length];
        var y = new float[x.Length];
        for (int r = 0; r < x.Rows; r++)
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c;
                mask[i] = DropoutMask.Dropped(rowKeys[r], site, c, p) ? 0f : keep;
                y[i] = x.Data[i] * mask[i];
            }
        var result = new Tensor(y, x.Rows, cols, Tracks(x));
        if (result.RequiresGrad)
            Record(() =>
            {
                if (result.Grad is not { } g) return;
                var gx = x.GradBuffer();
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(g, mask, gx, gx);
            });
        return result;
    }
}
