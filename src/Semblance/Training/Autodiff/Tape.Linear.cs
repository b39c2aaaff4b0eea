// Tape operations with weights: embedding lookup and the affine layer y = x·Wᵀ + b.
using System.Numerics.Tensors;
using Semblance.Numerics;

namespace Semblance.Training.Autodiff;

internal sealed partial class Tape
{
    /// <summary>Rows <paramref name="ids"/> of <paramref name="table"/> [V, E] → [ids.Length, E]; the gradient scatters back into those rows.</summary>
    public Tensor Embedding(Tensor table, int[] ids)
    {
        int e = table.Cols;
        var y = GC.AllocateUninitializedArray<float>(ids.Length * e);
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)table.Rows) throw new ArgumentOutOfRangeException(nameof(ids), ids[i], $"id outside the {table.Rows}-row table");
            table.Row(ids[i]).CopyTo(y.AsSpan(i * e, e));
        }
        var result = new Tensor(y, ids.Length, e, Tracks(table));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                var gt = table.GradBuffer();
                for (int i = 0; i < ids.Length; i++)
                {
                    var dst = gt.AsSpan(ids[i] * e, e);
                    TensorPrimitives.Add(dst, g.AsSpan(i * e, e), dst);
                }
            });
        return result;
    }

    /// <summary>x[m, in] · W[out, in]ᵀ + b[out] (b may be null), the checkpoint's Linear layout.</summary>
    public Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        int m = x.Rows, k = x.Cols, n = weight.Rows;
        if (weight.Cols != k) throw new ArgumentException($"Linear: input has {k} features, the weight is {weight.Rows}x{weight.Cols}");
        if (bias is not null && bias.Length != n) throw new ArgumentException($"Linear: bias has {bias.Length} values, expected {n}");
        var y = GC.AllocateUninitializedArray<float>(m * n);
        if (weight is Parameter p && m > 0)
            Gemm.Linear(x.Data, m, p.Packed(), bias is null ? default : bias.Data, y, Context);
        else
        {
            TrainingGemm.ABt(x.Data, m, k, weight.Data, n, y, Context);
            if (bias is not null)
                for (int r = 0; r < m; r++) TensorPrimitives.Add(y.AsSpan(r * n, n), bias.Data, y.AsSpan(r * n, n));
        }
        bool tracked = IsRecording && (x.RequiresGrad || weight.RequiresGrad || (bias?.RequiresGrad ?? false));
        var result = new Tensor(y, m, n, tracked);
        if (tracked)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                if (x.RequiresGrad)
                {
                    // A first contribution is written straight into the gradient instead of added to zeros.
                    bool overwrite = x.GradIsZero;
                    if (weight is Parameter wp) TrainingGemm.AddAB(g, m, wp.PackedTransposed(), overwrite ? x.GradBufferToOverwrite() : x.GradBuffer(), accumulate: !overwrite, Context);
                    else TrainingGemm.AddAB(g, m, n, weight.Data, k, x.GradBuffer(), Context);
                }
                if (weight.RequiresGrad)
                {
                    bool overwrite = weight.GradIsZero;
                    TrainingGemm.AtB(g, m, n, x.Data, k, overwrite ? weight.GradBufferToOverwrite() : weight.GradBuffer(), accumulate: !overwrite, Context);
                }
                if (bias is not null && bias.RequiresGrad)
                {
                    // A sum over rows: split by columns so each keeps its row order whatever the thread count.
                    var gb = bias.GradBuffer();
                    ForRanges(n, (c0, width) =>
                    {
                        var dst = gb.AsSpan(c0, width);
                        for (int r = 0; r < m; r++) TensorPrimitives.Add(dst, g.AsSpan(r * n + c0, width), dst);
                    }, m * n >= MinPerTask ? 64 : n);
                }
            });
        return result;
    }
}
