// The contract of a training objective over sentence embeddings, and the pieces the contrastive losses share.
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>A loss's objective node (to back-propagate) and the number to report (they differ for FlatNCE).</summary>
internal readonly record struct LossValue(Tensor Objective, double Reported);

/// <summary>
/// A loss over a batch of rows, each row made of <see cref="Columns"/> sentences (anchor, positive, ...). The
/// embeddings arrive as one [rows, H] tensor per column; <c>scores</c> carries per-row labels for losses that
/// need them (CoSENT). A loss sees only embeddings, never the model, which is what lets gradient caching compute
/// it once on the full batch.
/// </summary>
internal abstract class EmbeddingLoss
{
    public abstract string Name { get; }

    /// <summary>Embeddings per row the loss expects, or the allowed range (sup-simcse takes 2 or 3).</summary>
    public abstract (int Min, int Max) Columns { get; }

    public abstract LossValue Compute(Tape tape, IReadOnlyList<Tensor> columns, float[]? scores);

    /// <summary>Weights the loss itself learns beside the encoder (AM-Softmax's class proxies); none for most losses.</summary>
    public virtual IReadOnlyList<Parameter> Parameters => [];

    protected void CheckColumns(IReadOnlyList<Tensor> columns)
    {
        var (min, max) = Columns;
        if (columns.Count < min || columns.Count > max)
            throw new ArgumentException($"{Name} takes {(min == max ? min.ToString() : $"{min} to {max}")} embedding columns, got {columns.Count}");
        if (columns.Any(c => c.Rows != columns[0].Rows || c.Cols != columns[0].Cols))
            throw new ArgumentException($"{Name}: embedding columns differ in shape");
    }

    /// <summary>cos(a_i, b_j) for all i, j: normalise rows, then a·bᵀ.</summary>
    protected static Tensor CosineMatrix(Tape tape, Tensor a, Tensor b) => tape.MatMulTransposed(tape.L2Normalize(a), tape.L2Normalize(b));

    protected static int[] Diagonal(int rows) => Enumerable.Range(0, rows).ToArray();
}
