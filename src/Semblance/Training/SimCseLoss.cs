// SimCSE (Gao, Yao and Chen, 2021, "SimCSE: Simple Contrastive Learning of Sentence Embeddings"): in-batch InfoNCE.
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>
/// How unsupervised SimCSE lays out its similarity matrix (<c>--simcse-batch</c>).
/// </summary>
public enum SimCseBatch
{
    /// <summary>B×B cross-view: row i scores its first view against every second view (the paper's form; the default).</summary>
    Views,

    /// <summary>
    /// 2B×2B: both views of every sentence stacked into one batch of 2B, each scored against all the others with the
    /// diagonal (itself) masked out, the target being its other view (the SimCSE blog implementation that duplicates
    /// each sentence in the batch).
    /// </summary>
    Duplicate,
}

/// <summary>
/// loss = mean_i −log( e^{cos(a_i, p_i)/τ} / (Σ_j e^{cos(a_i, p_j)/τ} + Σ_j e^{cos(a_i, h_j)/τ}) ).
/// Unsupervised SimCSE: p_i is the same sentence as a_i passed through the encoder a second time, so the two
/// differ only by their dropout masks, and the other rows are the negatives. Supervised SimCSE (in-batch
/// negatives): p_i is a labelled paraphrase (an NLI entailment) and the optional third column h_i a hard negative
/// (a contradiction) that joins the denominator of every row. τ (temperature, default 0.05) sets how sharply
/// near misses are punished. With <see cref="SimCseBatch.Duplicate"/> (two columns only), e = [a; p] (2B rows) and
/// loss = mean_k −log( e^{cos(e_k, e_k')/τ} / Σ_{j≠k} e^{cos(e_k, e_j)/τ} ), k' = k ± B the other view of row k.
/// </summary>
internal sealed class SimCseLoss(float temperature = 0.05f, SimCseBatch batch = SimCseBatch.Views) : EmbeddingLoss
{
    /// <summary>What the masked diagonal of the duplicate layout adds to its logits (e^−1e12 is 0 in any precision).</summary>
    public const float MaskedLogit = -1e12f;

    public float Temperature { get; } = temperature;

    public SimCseBatch Batch { get; } = batch;

    public override string Name => "simcse";

    public override (int Min, int Max) Columns => Batch == SimCseBatch.Duplicate ? (2, 2) : (2, 3);

    public override LossValue Compute(Tape tape, IReadOnlyList<Tensor> columns, float[]? scores)
    {
        CheckColumns(columns);
        if (Batch == SimCseBatch.Duplicate) return Duplicated(tape, columns[0], columns[1]);
        var anchors = tape.L2Normalize(columns[0]);
        var logits = tape.MatMulTransposed(anchors, tape.L2Normalize(columns[1]));
        if (columns.Count == 3) logits = tape.ConcatColumns(logits, tape.MatMulTransposed(anchors, tape.L2Normalize(columns[2])));
        var loss = tape.CrossEntropy(tape.Scale(logits, 1f / Temperature), Diagonal(columns[0].Rows));
        return new LossValue(loss, loss.Item);
    }

    private LossValue Duplicated(Tape tape, Tensor a, Tensor p)
    {
        int b = a.Rows, n = 2 * b;
        var e = tape.L2Normalize(tape.ConcatRows(a, p));
        var mask = new float[n * n];
        for (int i = 0; i < n; i++) mask[i * n + i] = MaskedLogit;
        var logits = tape.Add(tape.Scale(tape.MatMulTransposed(e, e), 1f / Temperature), Tensor.Constant(mask, n, n));
        var targets = Enumerable.Range(0, n).Select(i => i < b ? i + b : i - b).ToArray();
        var loss = tape.CrossEntropy(logits, targets);
        return new LossValue(loss, loss.Item);
    }
}
