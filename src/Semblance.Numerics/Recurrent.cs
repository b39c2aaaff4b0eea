// Element-wise state updates of recurrent layers (the GRU gates), applied to a batch of rows after its GEMMs.
using System.Numerics.Tensors;

namespace Semblance.Numerics;

internal static class Recurrent
{
    /// <summary>
    /// One GRU step for <paramref name="rows"/> sequences, PyTorch <c>nn.GRU</c> gate order (r, z, n):
    /// r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r ⊙ gh_n), h ← (1 − z) ⊙ n + z ⊙ h,
    /// where gi = W_ih·x + b_ih and gh = W_hh·h + b_hh are [rows, 3H] and h is [rows, H], updated in place.
    /// Each row depends only on its own inputs, so the result does not depend on which rows share the call.
    /// <paramref name="scratch"/> holds at least 3H floats.
    /// </summary>
    public static void GruUpdate(ReadOnlySpan<float> gi, ReadOnlySpan<float> gh, Span<float> h, int rows, int hidden, Span<float> scratch)
    {
        int g3 = 3 * hidden;
        if (gi.Length < rows * g3 || gh.Length < rows * g3) throw new ArgumentException($"gate inputs need {rows}x{g3} values");
        if (h.Length < rows * hidden) throw new ArgumentException($"h has {h.Length} values, expected at least {rows}x{hidden}", nameof(h));
        if (scratch.Length < g3) throw new ArgumentException($"scratch has {scratch.Length} values, expected at least {g3}", nameof(scratch));
        var r = scratch[..hidden];
        var z = scratch.Slice(hidden, hidden);
        var n = scratch.Slice(2 * hidden, hidden);
        for (int row = 0; row < rows; row++)
        {
            var giRow = gi.Slice(row * g3, g3);
            var ghRow = gh.Slice(row * g3, g3);
            var state = h.Slice(row * hidden, hidden);
            TensorPrimitives.Add(giRow[..hidden], ghRow[..hidden], r);
            TensorPrimitives.Sigmoid(r, r);
            TensorPrimitives.Add(giRow.Slice(hidden, hidden), ghRow.Slice(hidden, hidden), z);
            TensorPrimitives.Sigmoid(z, z);
            TensorPrimitives.MultiplyAdd(r, ghRow.Slice(2 * hidden, hidden), giRow.Slice(2 * hidden, hidden), n);
            TensorPrimitives.Tanh(n, n);
            // (1 − z)·n + z·h = n + z·(h − n): two passes instead of three.
            TensorPrimitives.Subtract(state, n, r);
            TensorPrimitives.MultiplyAdd(z, r, n, state);
        }
    }

    /// <summary>
    /// Fills <paramref name="order"/> with sequence indices by decreasing length (sequence s spans rows
    /// offsets[s] .. offsets[s+1]−1), equal lengths in index order. The sequences still running at time step t are
    /// then a prefix of the order, so a step over a batch is one product over that prefix.
    /// </summary>
    public static void LongestFirst(ReadOnlySpan<int> offsets, Span<int> order)
    {
        int n = offsets.Length - 1;
        if (order.Length < n) throw new ArgumentException($"order has {order.Length} slots, expected at least {n}", nameof(order));
        // Insertion sort: stable, allocation-free, and batches are small next to the recurrence it orders.
        for (int s = 0; s < n; s++)
        {
            int length = offsets[s + 1] - offsets[s], i = s;
            while (i > 0 && offsets[order[i - 1] + 1] - offsets[order[i - 1]] < length)
            {
                order[i] = order[i - 1];
                i--;
            }
            order[i] = s;
        }
    }
}
