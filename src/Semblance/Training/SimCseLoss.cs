// SimCSE (Gao, Yao and Chen, 2021, "SimCSE: Simple Contrastive Learning of Sentence Embeddings"): in-batch InfoNCE.
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>
/// loss = mean_i −log( e^{cos(a_i, p_i)/τ} / (Σ_j e^{cos(a_i, p_j)/τ} + Σ_j e^{cos(a_i, h_j)/τ}) ).
/// Unsupervised SimCSE: p_i is the same sentence as a_i passed through the encoder a second time, so the two
/// differ only by their dropout masks, and the other rows are the negatives. Supervised SimCSE (in-batch
/// negatives): p_i is a labelled paraphrase (an NLI entailment) and the optional third column h_i a hard negative
/// (a contradiction) that joins the denominator of every row. τ (temperature, default 0.05) sets how sharply
/// near misses are punished.
/// </summary>
internal sealed class SimCseLoss(float temperature = 0.05f) : EmbeddingLoss
{
    public float Temperature { get; } = temperature;

    public override string Name => "simcse";

    public override (int Min, int Max) Columns => (2, 3);

    public override LossValue Compute(Tape tape, IReadOnlyList<Tensor> columns, float[]? scores)
    {
        CheckColumns(columns);
        var anchors = tape.L2Normalize(columns[0]);
        var logits = tape.MatMulTransposed(anchors, tape.L2Normalize(columns[1]));
        if (columns.Count == 3) logits = tape.ConcatColumns(logits, tape.MatMulTransposed(anchors, tape.L2Normalize(columns[2])));
        var loss = tape.CrossEntropy(tape.Scale(logits, 1f / Temperature), Diagonal(columns[0].Rows));
        return new LossValue(loss, loss.Item);
    }
}
