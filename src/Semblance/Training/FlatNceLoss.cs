// FlatNCE (Chen, Tao, Wang et al., 2021, "Simpler, Faster, Stronger: Breaking The log-K Curse On Contrastive
// Learners With FlatNCE"): InfoNCE's gradient direction without its small-batch shrinkage.
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>
/// With logits l_ij = cos(a_i, p_j)/τ and v_i = log Σ_{j≠i} exp(l_ij − l_ii):
/// InfoNCE = mean_i log(1 + e^{v_i}), whose gradient is σ(v_i)·∇v_i; once the positive dominates, σ(v_i) → 0 and
/// with few negatives the gradient vanishes in float precision. FlatNCE = mean_i exp(v_i − sg(v_i)) − 1 (sg = stop
/// gradient): its value is always 0 and its gradient is mean_i ∇v_i, InfoNCE's direction at full strength.
/// The reported value is InfoNCE, which is what progress should show. Same data as SimCSE (two views per row).
/// </summary>
internal sealed class FlatNceLoss(float temperature = 0.05f) : EmbeddingLoss
{
    public float Temperature { get; } = temperature;

    public override string Name => "flatnce";

    public override (int Min, int Max) Columns => (2, 2);

    public override LossValue Compute(Tape tape, IReadOnlyList<Tensor> columns, float[]? scores)
    {
        CheckColumns(columns);
        var logits = tape.Scale(CosineMatrix(tape, columns[0], columns[1]), 1f / Temperature);
        return Objective(tape, logits);
    }

    /// <summary>The flat objective on a square logit matrix (positives on the diagonal). Needs at least 2 rows.</summary>
    public static LossValue Objective(Tape tape, Tensor logits)
    {
        int n = logits.Rows;
        if (n < 2 || logits.Cols != n) throw new ArgumentException($"FlatNCE needs a square logit matrix with at least 2 rows, got {logits.Rows}x{logits.Cols}");
        var weights = new float[n * n];
        double infoNce = 0;
        for (int i = 0; i < n; i++)
        {
            var row = logits.Row(i);
            float positive = row[i], max = float.NegativeInfinity;
            for (int j = 0; j < n; j++) if (j != i) max = MathF.Max(max, row[j] - positive);
            double sum = 0;
            for (int j = 0; j < n; j++) if (j != i) sum += Math.Exp(row[j] - positive - max);
            double v = max + Math.Log(sum);
            infoNce += v > 0 ? v + Math.Log(1 + Math.Exp(-v)) : Math.Log(1 + Math.Exp(v));
            // ∂v_i/∂l_ij = softmax over the negatives; ∂v_i/∂l_ii = −1.
            for (int j = 0; j < n; j++)
                weights[i * n + j] = j == i ? -1f : (float)(Math.Exp(row[j] - positive - max) / sum);
        }
        var loss = tape.Function([logits], [0f], 1, 1, g =>
        {
            var gl = logits.GradBuffer();
            float share = g[0] / n;
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(weights, share, gl, gl);
        });
        return new LossValue(loss, infoNce / n);
    }
}
