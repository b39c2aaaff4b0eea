// Tape dropout on token rows: inverted dropout with masks keyed per row (see DropoutMask).
namespace Semblance.Training.Autodiff;

internal sealed partial class Tape
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
        ForRanges(x.Rows, (r0, count) =>
        {
            for (int r = r0; r < r0 + count; r++) DropoutMask.Fill(rowKeys[r], site, 0, p, keep, mask.AsSpan(r * cols, cols));
            System.Numerics.Tensors.TensorPrimitives.Multiply(x.Data.AsSpan(r0 * cols, count * cols), mask.AsSpan(r0 * cols, count * cols), y.AsSpan(r0 * cols, count * cols));
        }, Math.Max(1, MinPerTask / Math.Max(1, cols)));
        var result = new Tensor(y, x.Rows, cols, Tracks(x));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                bool overwrite = x.GradIsZero;
                var gx = overwrite ? x.GradBufferToOverwrite() : x.GradBuffer();
                ForRanges(g.Length, (start, count) =>
                {
                    var dst = gx.AsSpan(start, count);
                    if (overwrite) System.Numerics.Tensors.TensorPrimitives.Multiply(g.AsSpan(start, count), mask.AsSpan(start, count), dst);
                    else System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(g.AsSpan(start, count), mask.AsSpan(start, count), dst, dst);
                });
            });
        return result;
    }
}
