// Tape normalisations: LayerNorm over the last dimension and row-wise L2 normalisation.
using System.Numerics.Tensors;

namespace Semblance.Training.Autodiff;

internal sealed partial class Tape
{
    /// <summary>
    /// y = x̂·γ + β with x̂ = (x − μ)/√(σ² + eps) per row (σ² the biased variance, as torch.nn.LayerNorm).
    /// Backward: dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))/√(σ² + eps) with dx̂ = dy·γ.
    /// </summary>
    public Tensor LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps)
    {
        int rows = x.Rows, cols = x.Cols;
        if (gamma.Length != cols || beta.Length != cols) throw new ArgumentException($"LayerNorm: {cols} features, but γ has {gamma.Length} and β {beta.Length}");
        var y = GC.AllocateUninitializedArray<float>(x.Length);
        // x̂ is not stored: the backward step rebuilds each row from x, μ and 1/σ with the same operations (same bits).
        var mean = new float[rows];
        var rstd = new float[rows];
        int rowsPerTask = Math.Max(1, MinPerTask / Math.Max(1, cols));
        ForRanges(rows, (r0, count) =>
        {
            Span<float> h = cols <= 4096 ? stackalloc float[cols] : new float[cols];
            for (int r = r0; r < r0 + count; r++)
            {
                mean[r] = TensorPrimitives.Sum(x.Row(r)) / cols;
                TensorPrimitives.Subtract(x.Row(r), mean[r], h);
                float inv = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(h) / cols + eps);
                rstd[r] = inv;
                TensorPrimitives.Multiply(h, inv, h);
                TensorPrimitives.MultiplyAdd(h, gamma.Data, beta.Data, y.AsSpan(r * cols, cols));
            }
        }, rowsPerTask);
        var result = new Tensor(y, rows, cols, Tracks(x, gamma, beta));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                var gg = gamma.RequiresGrad ? gamma.GradBuffer() : null;
                var gb = beta.RequiresGrad ? beta.GradBuffer() : null;
                bool overwrite = x.RequiresGrad && x.GradIsZero;
                var gx = !x.RequiresGrad ? null : overwrite ? x.GradBufferToOverwrite() : x.GradBuffer();
                var xhat = gg is null ? null : Rent(x.Length);
                ForRanges(rows, (r0, count) =>
                {
                    Span<float> h = cols <= 4096 ? stackalloc float[cols] : new float[cols];
                    Span<float> dxhat = cols <= 4096 ? stackalloc float[cols] : new float[cols];
                    for (int r = r0; r < r0 + count; r++)
                    {
                        TensorPrimitives.Subtract(x.Row(r), mean[r], h);
                        TensorPrimitives.Multiply(h, rstd[r], h);
                        if (xhat is not null) h.CopyTo(xhat.AsSpan(r * cols, cols));
                        if (gx is null) continue;
                        TensorPrimitives.Multiply(g.AsSpan(r * cols, cols), gamma.Data, dxhat);
                        float meanD = TensorPrimitives.Sum(dxhat) / cols, meanDot = TensorPrimitives.Dot(dxhat, h) / cols;
                        TensorPrimitives.Subtract(dxhat, meanD, dxhat);
                        TensorPrimitives.MultiplyAdd(h, -meanDot, dxhat, dxhat);
                        var dst = gx.AsSpan(r * cols, cols);
                        if (overwrite) TensorPrimitives.Multiply(dxhat, rstd[r], dst);
                        else TensorPrimitives.MultiplyAdd(dxhat, rstd[r], dst, dst);
                    }
                }, rowsPerTask);
                // γ and β sum over rows: split by columns, so each sum keeps its row order whatever the thread count.
                if (gg is not null || gb is not null)
                    ForRanges(cols, (c0, width) =>
                    {
                        for (int r = 0; r < rows; r++)
                        {
                            var gRow = g.AsSpan(r * cols + c0, width);
                            if (gg is not null) TensorPrimitives.MultiplyAdd(gRow, xhat!.AsSpan(r * cols + c0, width), gg.AsSpan(c0, width), gg.AsSpan(c0, width));
                            if (gb is not null) TensorPrimitives.Add(gb.AsSpan(c0, width), gRow, gb.AsSpan(c0, width));
                        }
                    }, rows * cols >= MinPerTask ? 64 : cols);
                if (xhat is not null) Return(xhat);
            });
        return result;
    }

    /// <summary>
    /// y = x / max(‖x‖₂, 1e−12) per row (torch.nn.functional.normalize). Backward: dx = (dy − y·⟨y, dy⟩)/‖x‖
    /// (dy/1e−12 where the norm is clamped).
    /// </summary>
    public Tensor L2Normalize(Tensor x)
    {
        const float floor = 1e-12f;
        int rows = x.Rows, cols = x.Cols;
        var y = new float[x.Length];
        var norms = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            float norm = TensorPrimitives.Norm(x.Row(r));
            norms[r] = norm;
            TensorPrimitives.Divide(x.Row(r), MathF.Max(norm, floor), y.AsSpan(r * cols, cols));
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
                    var yr = y.AsSpan(r * cols, cols);
                    var dst = gx.AsSpan(r * cols, cols);
                    if (norms[r] <= floor)
                    {
                        TensorPrimitives.MultiplyAdd(dy, 1f / floor, dst, dst);
                        continue;
                    }
                    float dot = TensorPrimitives.Dot(yr, dy), inv = 1f / norms[r];
                    for (int c = 0; c < cols; c++) dst[c] += (dy[c] - yr[c] * dot) * inv;
                }
            });
        return result;
    }
}
