// Tape operations on whole matrices: sums, scaling, products, concatenation and row selection.
using System.Numerics.Tensors;

namespace Semblance.Training.Autodiff;

internal sealed partial class Tape
{
    /// <summary>a + b, same shapes.</summary>
    public Tensor Add(Tensor a, Tensor b)
    {
        SameShape(a, b);
        var y = GC.AllocateUninitializedArray<float>(a.Length);
        ForRanges(y.Length, (start, count) => TensorPrimitives.Add(a.Data.AsSpan(start, count), b.Data.AsSpan(start, count), y.AsSpan(start, count)));
        var result = new Tensor(y, a.Rows, a.Cols, Tracks(a, b));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                if (a.RequiresGrad) Accumulate(a, g);
                if (b.RequiresGrad) Accumulate(b, g);
            });
        return result;
    }

    /// <summary>x · s.</summary>
    public Tensor Scale(Tensor x, float s)
    {
        var y = new float[x.Length];
        TensorPrimitives.Multiply(x.Data, s, y);
        var result = new Tensor(y, x.Rows, x.Cols, Tracks(x));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                var gx = x.GradBuffer();
                TensorPrimitives.MultiplyAdd(g, s, gx, gx);
            });
        return result;
    }

    /// <summary>a[m, k] · b[n, k]ᵀ → [m, n] (similarity matrices: rows against rows).</summary>
    public Tensor MatMulTransposed(Tensor a, Tensor b)
    {
        if (a.Cols != b.Cols) throw new ArgumentException($"MatMulTransposed: {a.Rows}x{a.Cols} and {b.Rows}x{b.Cols} differ in columns");
        int m = a.Rows, n = b.Rows, k = a.Cols;
        var y = new float[m * n];
        TrainingGemm.ABt(a.Data, m, k, b.Data, n, y, Context);
        var result = new Tensor(y, m, n, Tracks(a, b));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                if (a.RequiresGrad) TrainingGemm.AddAB(g, m, n, b.Data, k, a.GradBuffer(), Context);
                if (b.RequiresGrad) TrainingGemm.AddAtB(g, m, n, a.Data, k, b.GradBuffer(), Context);
            });
        return result;
    }

    /// <summary>Σ_c a[r, c]·b[r, c] per row → [rows, 1].</summary>
    public Tensor RowDot(Tensor a, Tensor b)
    {
        SameShape(a, b);
        int rows = a.Rows, cols = a.Cols;
        var y = new float[rows];
        for (int r = 0; r < rows; r++) y[r] = TensorPrimitives.Dot(a.Row(r), b.Row(r));
        var result = new Tensor(y, rows, 1, Tracks(a, b));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                for (int r = 0; r < rows; r++)
                {
                    if (a.RequiresGrad) TensorPrimitives.MultiplyAdd(b.Row(r), g[r], a.GradBuffer().AsSpan(r * cols, cols), a.GradBuffer().AsSpan(r * cols, cols));
                    if (b.RequiresGrad) TensorPrimitives.MultiplyAdd(a.Row(r), g[r], b.GradBuffer().AsSpan(r * cols, cols), b.GradBuffer().AsSpan(r * cols, cols));
                }
            });
        return result;
    }

    /// <summary>[a | b | ...] side by side: same rows, columns concatenated.</summary>
    public Tensor ConcatColumns(params Tensor[] parts)
    {
        int rows = parts[0].Rows, cols = parts.Sum(p => p.Cols);
        if (parts.Any(p => p.Rows != rows)) throw new ArgumentException("ConcatColumns: parts differ in rows");
        var y = new float[rows * cols];
        int c0 = 0;
        foreach (var p in parts)
        {
            for (int r = 0; r < rows; r++) p.Row(r).CopyTo(y.AsSpan(r * cols + c0, p.Cols));
            c0 += p.Cols;
        }
        var result = new Tensor(y, rows, cols, IsRecording && parts.Any(p => p.RequiresGrad));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                int start = 0;
                foreach (var p in parts)
                {
                    if (p.RequiresGrad)
                    {
                        var gp = p.GradBuffer();
                        for (int r = 0; r < rows; r++)
                        {
                            var dst = gp.AsSpan(r * p.Cols, p.Cols);
                            TensorPrimitives.Add(dst, g.AsSpan(r * cols + start, p.Cols), dst);
                        }
                    }
                    start += p.Cols;
                }
            });
        return result;
    }

    /// <summary>The parts stacked: same columns, rows concatenated.</summary>
    public Tensor ConcatRows(params Tensor[] parts)
    {
        int cols = parts[0].Cols, rows = parts.Sum(p => p.Rows);
        if (parts.Any(p => p.Cols != cols)) throw new ArgumentException("ConcatRows: parts differ in columns");
        var y = new float[rows * cols];
        int offset = 0;
        foreach (var p in parts)
        {
            p.Data.CopyTo(y, offset);
            offset += p.Length;
        }
        var result = new Tensor(y, rows, cols, IsRecording && parts.Any(p => p.RequiresGrad));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                int start = 0;
                foreach (var p in parts)
                {
                    if (p.RequiresGrad) p.AccumulateGrad(g.AsSpan(start, p.Length));
                    start += p.Length;
                }
            });
        return result;
    }

    /// <summary>Rows <paramref name="start"/> .. start + count − 1.</summary>
    public Tensor SliceRows(Tensor x, int start, int count)
    {
        if (start < 0 || count < 0 || start + count > x.Rows) throw new ArgumentOutOfRangeException(nameof(start), $"rows {start}..{start + count} of a {x.Rows}-row tensor");
        var y = x.Data.AsSpan(start * x.Cols, count * x.Cols).ToArray();
        var result = new Tensor(y, count, x.Cols, Tracks(x));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                var dst = x.GradBuffer().AsSpan(start * x.Cols, count * x.Cols);
                TensorPrimitives.Add(dst, g, dst);
            });
        return result;
    }

    /// <summary>The mean of all elements → [1, 1].</summary>
    public Tensor Mean(Tensor x)
    {
        double sum = 0;
        foreach (var v in x.Data) sum += v;
        var result = new Tensor([(float)(sum / x.Length)], 1, 1, Tracks(x));
        if (result.RequiresGrad)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                var gx = x.GradBuffer();
                float share = g[0] / x.Length;
                for (int i = 0; i < gx.Length; i++) gx[i] += share;
            });
        return result;
    }

    private static void SameShape(Tensor a, Tensor b)
    {
        if (a.Rows != b.Rows || a.Cols != b.Cols)
            throw new ArgumentException($"shapes differ: {a.Rows}x{a.Cols} and {b.Rows}x{b.Cols}");
    }
}
