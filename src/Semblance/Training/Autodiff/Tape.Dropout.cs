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
        var mask = GC.AllocateUninitializedArray<float>(x.Length);
        var y = GC.AllocateUninitializedArray<float>(x.Length);
        for (int r = 0; r < x.Rows; r++) DropoutMask.Fill(rowKeys[r], site, 0, p, keep, mask.AsSpan(r * cols, cols));
        System.Numerics.Tensors.TensorPrimitives.Multiply(x.Data, mask, y);
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
