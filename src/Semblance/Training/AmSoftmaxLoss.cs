// Additive-margin softmax for dual encoders (Wang et al., 2018 "Additive Margin Softmax for Face Verification";
// Yang et al., 2019 "Improving Multilingual Sentence Embedding using Bi-directional Dual Encoder with AM-Softmax").
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>
/// Each row holds two members (a_i, p_i) of one group, every row a different group, so the other rows' members are
/// negatives. logits_ij = s·(cos(a_i, p_j) − m·[i = j]); loss = ½(CE(logits, diag) + CE(logitsᵀ, diag)), the
/// bidirectional form. The margin m forces the true pair to beat every negative by m in cosine, not merely win;
/// the scale s (default 20) turns cosines into confident logits.
/// </summary>
internal sealed class AmSoftmaxLoss(float margin = 0.3f, float scale = 20f) : EmbeddingLoss
{
    public float Margin { get; } = margin;

    public float Scale { get; } = scale;

    public override string Name => "am-softmax";

    public override (int Min, int Max) Columns => (2, 2);

    public override LossValue Compute(Tape tape, IReadOnlyList<Tensor> columns, float[]? scores)
    {
        CheckColumns(columns);
        int n = columns[0].Rows;
        var a = tape.L2Normalize(columns[0]);
        var p = tape.L2Normalize(columns[1]);
        var margin = new float[n * n];
        for (int i = 0; i < n; i++) margin[i * n + i] = -Margin;
        var shift = Tensor.Constant(margin, n, n);
        var forward = tape.Scale(tape.Add(tape.MatMulTransposed(a, p), shift), Scale);
        var backward = tape.Scale(tape.Add(tape.MatMulTransposed(p, a), shift), Scale);
        var targets = Diagonal(n);
        var loss = tape.Scale(tape.Add(tape.CrossEntropy(forward, targets), tape.CrossEntropy(backward, targets)), 0.5f);
        return new LossValue(loss, loss.Item);
    }
}
