// The losses of interaction (cross-encoder) training: each reads the [pairs, num_labels] logits of a batch of text pairs.
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>
/// A pair-scoring loss sees one "column": the logits of the batch's pairs, [rows, num_labels]; <c>scores</c> carries
/// each pair's target as <see cref="TrainingData"/> prepared it (already divided by --max-score for bce and mse, the
/// class index for ce).
/// </summary>
internal abstract class PairScoreLoss : EmbeddingLoss
{
    public override (int Min, int Max) Columns => (1, 1);

    /// <summary>The head outputs the loss needs: 1 (a score), or 0 for "two or more" (classes).</summary>
    public abstract int Labels { get; }

    public override LossValue Compute(Tape tape, IReadOnlyList<Tensor> columns, float[]? scores)
    {
        CheckColumns(columns);
        var logits = columns[0];
        if (scores is null || scores.Length != logits.Rows) throw new ArgumentException($"{Name} needs one target per pair", nameof(scores));
        if (Labels == 1 ? logits.Cols != 1 : logits.Cols < 2) throw new ArgumentException($"{Name}: {logits.Cols} logits per pair, expected {(Labels == 1 ? "1" : "2 or more")}");
        var loss = Objective(tape, logits, scores);
        return new LossValue(loss, loss.Item);
    }

    protected abstract Tensor Objective(Tape tape, Tensor logits, float[] targets);

    /// <summary>mean_i f(s_i, y_i) over one-label logits, with its gradient ∂f/∂s (s_i, y_i)/n, both in double.</summary>
    protected static Tensor MeanOver(Tape tape, Tensor logits, float[] targets, Func<double, double, double> f, Func<double, double, double> df)
    {
        int n = logits.Rows;
        double loss = 0;
        for (int i = 0; i < n; i++) loss += f(logits.Data[i], targets[i]);
        return tape.Function([logits], [(float)(loss / n)], 1, 1, g =>
        {
            var gx = logits.GradBuffer();
            for (int i = 0; i < n; i++) gx[i] += (float)(df(logits.Data[i], targets[i]) * g[0] / n);
        });
    }
}

/// <summary>
/// CoSENT on the pair score (Su, 2022, the interaction form): with s_i the logit of pair i and gold y_i,
/// loss = log(1 + Σ_{y_i &gt; y_j} exp(λ(s_j − s_i))). Only the order of the gold scores matters.
/// </summary>
internal sealed class PairCoSentLoss(float scale = 20f) : PairScoreLoss
{
    public float Scale { get; } = scale;

    public override string Name => "cosent";

    public override int Labels => 1;

    protected override Tensor Objective(Tape tape, Tensor logits, float[] targets) => CoSentLoss.Objective(tape, logits, targets, Scale);
}

/// <summary>
/// Binary cross-entropy on the logit (BCEWithLogits): mean_i softplus(s_i) − y_i·s_i with y_i ∈ [0, 1]
/// (0/1 labels, or soft targets such as an STS score / 5, as sentence-transformers' CrossEncoder trains STS-B).
/// Gradient (σ(s_i) − y_i)/n.
/// </summary>
internal sealed class PairBceLoss : PairScoreLoss
{
    public override string Name => "bce";

    public override int Labels => 1;

    protected override Tensor Objective(Tape tape, Tensor logits, float[] targets) => MeanOver(tape, logits, targets,
        (s, y) => Math.Max(s, 0) + Math.Log(1 + Math.Exp(-Math.Abs(s))) - y * s,
        (s, y) => 1 / (1 + Math.Exp(-s)) - y);
}

/// <summary>Mean squared error of the logit against a graded target in [0, 1]: mean_i (s_i − y_i)²; gradient 2(s_i − y_i)/n.</summary>
internal sealed class PairMseLoss : PairScoreLoss
{
    public override string Name => "mse";

    public override int Labels => 1;

    protected override Tensor Objective(Tape tape, Tensor logits, float[] targets) =>
        MeanOver(tape, logits, targets, (s, y) => (s - y) * (s - y), (s, y) => 2 * (s - y));
}

/// <summary>Softmax cross-entropy over the num_labels class logits, the target a class index: mean_i −log softmax(s_i)[y_i].</summary>
internal sealed class PairCrossEntropyLoss : PairScoreLoss
{
    public override string Name => "ce";

    public override int Labels => 0;

    protected override Tensor Objective(Tape tape, Tensor logits, float[] targets) =>
        tape.CrossEntropy(logits, targets.Select(t => (int)t).ToArray());
}
