// CoSENT (Su, 2022, "CoSENT: a more efficient sentence vector scheme than Sentence-BERT"): rank pairs by cosine.
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>
/// For pairs (a_i, b_i) with gold scores y_i and c_i = s·cos(a_i, b_i):
/// loss = log(1 + Σ_{(i, j): y_i &gt; y_j} exp(c_j − c_i)). Every pair the gold ranks higher must get the higher
/// cosine; the scale s (default 20, the paper's λ) sharpens the soft maximum. Only the order of the scores matters, so any scale works.
/// </summary>
internal sealed class CoSentLoss(float scale = 20f) : EmbeddingLoss
{
    public float Scale { get; } = scale;

    public override string Name => "cosent";

    public override (int Min, int Max) Columns => (2, 2);

    public override LossValue Compute(Tape tape, IReadOnlyList<Tensor> columns, float[]? scores)
    {
        CheckColumns(columns);
        if (scores is null || scores.Length != columns[0].Rows) throw new ArgumentException("cosent needs one gold score per row", nameof(scores));
        var cosines = tape.RowDot(tape.L2Normalize(columns[0]), tape.L2Normalize(columns[1]));
        var loss = Objective(tape, cosines, scores, Scale);
        return new LossValue(loss, loss.Item);
    }

    /// <summary>
    /// The ranking term on a [n, 1] cosine column. With z_ij = c_j − c_i over ordered pairs and
    /// w_ij = exp z_ij / (1 + Σ exp z), d loss/d c_j += w_ij and d loss/d c_i −= w_ij (then × s).
    /// </summary>
    public static Tensor Objective(Tape tape, Tensor cosines, float[] scores, float scale)
    {
        int n = cosines.Rows;
        var pairs = new List<(int Hi, int Lo)>();
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (scores[i] > scores[j]) pairs.Add((i, j));
        var z = new double[pairs.Count];
        double max = 0;
        for (int p = 0; p < pairs.Count; p++)
        {
            z[p] = scale * ((double)cosines.Data[pairs[p].Lo] - cosines.Data[pairs[p].Hi]);
            max = Math.Max(max, z[p]);
        }
        double sum = Math.Exp(-max);
        foreach (var v in z) sum += Math.Exp(v - max);
        double loss = max + Math.Log(sum);
        return tape.Function([cosines], [(float)loss], 1, 1, g =>
        {
            var gc = cosines.GradBuffer();
            for (int p = 0; p < pairs.Count; p++)
            {
                double w = Math.Exp(z[p] - loss) * scale * g[0];
                gc[pairs[p].Lo] += (float)w;
                gc[pairs[p].Hi] -= (float)w;
            }
        });
    }
}
