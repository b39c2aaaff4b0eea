// Tape GRU layer over packed sequences (PyTorch nn.GRU gate order and equations), with back-propagation through time.
using System.Numerics.Tensors;
using Semblance.Numerics;

namespace Semblance.Training.Autodiff;

internal sealed partial class Tape
{
    /// <summary>
    /// One direction of a GRU over each sequence's rows (h₀ = 0; <paramref name="reverse"/> runs last row to first):
    /// r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
    /// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h′ = (1 − z) ⊙ n + z ⊙ h.
    /// Weights are PyTorch's: W_ih [3H, in] and W_hh [3H, H] stacked in gate order (r, z, n); output [rows, H].
    /// </summary>
    public Tensor Gru(Tensor x, int[] offsets, Tensor weightIh, Tensor weightHh, Tensor biasIh, Tensor biasHh, bool reverse)
    {
        int rows = x.Rows, h = weightHh.Cols, g3 = 3 * h;
        if (weightIh.Rows != g3 || weightIh.Cols != x.Cols || weightHh.Rows != g3 || biasIh.Length != g3 || biasHh.Length != g3)
            throw new ArgumentException($"Gru: weights do not match input {x.Cols} and hidden {h}");
        // The input projections of every row are an ordinary Linear op: its backward step gives dX, dW_ih and db_ih
        // from the dGi this op leaves in the projection's gradient.
        var projection = Linear(x, weightIh, biasIh);
        var gi = projection.Data;

        // Sequences sorted by decreasing length: those still running at step t are a prefix of this order, so each
        // step is one product over that prefix (as in inference), not one matrix-vector product per sequence.
        int sequences = offsets.Length - 1;
        var order = new int[sequences];
        Recurrent.LongestFirst(offsets, order);
        int longest = sequences == 0 ? 0 : offsets[order[0] + 1] - offsets[order[0]];
        var running = new int[longest];
        for (int t = 0; t < longest; t++)
        {
            int n = 0;
            while (n < sequences && offsets[order[n] + 1] - offsets[order[n]] > t) n++;
            running[t] = n;
        }
        int RowAt(int i, int t) => reverse ? offsets[order[i] + 1] - 1 - t : offsets[order[i]] + t;

        var y = new float[rows * h];
        // Saved per row for the backward pass: gates r, z, n, the recurrent n-term W_hn h + b_hn, and h_prev.
        var gates = new float[rows * 4 * h];
        var previous = new float[rows * h];
        var state = new float[sequences * h];
        var gh = new float[sequences * g3];
        var recurrent = weightHh is Parameter packedHh ? packedHh.Packed() : PackedWeight.Pack(weightHh.Data, g3, h);
        for (int t = 0; t < longest; t++)
        {
            int active = running[t];
            Gemm.Linear(state.AsSpan(0, active * h), active, recurrent, biasHh.Data, gh.AsSpan(0, active * g3), Context);
            for (int i = 0; i < active; i++)
            {
                int row = RowAt(i, t);
                var hRow = state.AsSpan(i * h, h);
                var ghRow = gh.AsSpan(i * g3, g3);
                var gRow = gates.AsSpan(row * 4 * h, 4 * h);
                var giRow = gi.AsSpan(row * g3, g3);
                hRow.CopyTo(previous.AsSpan(row * h, h));
                for (int j = 0; j < h; j++)
                {
                    float rg = Sigmoid(giRow[j] + ghRow[j]);
                    float zg = Sigmoid(giRow[h + j] + ghRow[h + j]);
                    float ng = MathF.Tanh(giRow[2 * h + j] + rg * ghRow[2 * h + j]);
                    gRow[j] = rg;
                    gRow[h + j] = zg;
                    gRow[2 * h + j] = ng;
                    gRow[3 * h + j] = ghRow[2 * h + j];
                    hRow[j] = (1 - zg) * ng + zg * hRow[j];
                }
                hRow.CopyTo(y.AsSpan(row * h, h));
            }
        }
        bool tracked = IsRecording && (projection.RequiresGrad || weightHh.RequiresGrad || biasHh.RequiresGrad);
        var result = new Tensor(y, rows, h, tracked);
        if (tracked)
            Record(result, () =>
            {
                if (result.Grad is not { } g) return;
                var dGi = projection.GradBuffer();
                // dL/d(W_hh h + b_hh) per row; dW_hh and db_hh are sums over all rows, done once after the sweep.
                var dGh = new float[rows * g3];
                var dState = new float[sequences * h];
                var dStep = new float[sequences * g3];
                var recurrentT = weightHh is Parameter packedHhT ? packedHhT.PackedTransposed() : TrainingGemm.PackInOut(weightHh.Data, g3, h);
                for (int t = longest - 1; t >= 0; t--)
                {
                    int active = running[t];
                    for (int i = 0; i < active; i++)
                    {
                        int row = RowAt(i, t);
                        var dh = dState.AsSpan(i * h, h);
                        TensorPrimitives.Add(dh, g.AsSpan(row * h, h), dh);
                        var gRow = gates.AsSpan(row * 4 * h, 4 * h);
                        var hPrev = previous.AsSpan(row * h, h);
                        var dGiRow = dGi.AsSpan(row * g3, g3);
                        var dGhRow = dGh.AsSpan(row * g3, g3);
                        for (int j = 0; j < h; j++)
                        {
                            float rg = gRow[j], zg = gRow[h + j], ng = gRow[2 * h + j], hn = gRow[3 * h + j];
                            float dn = dh[j] * (1 - zg) * (1 - ng * ng);
                            float dz = dh[j] * (hPrev[j] - ng) * zg * (1 - zg);
                            float dr = dn * hn * rg * (1 - rg);
                            dGiRow[j] = dr;
                            dGiRow[h + j] = dz;
                            dGiRow[2 * h + j] = dn;
                            dGhRow[j] = dr;
                            dGhRow[h + j] = dz;
                            dGhRow[2 * h + j] = dn * rg;
                            dh[j] *= zg;
                        }
                        dGhRow.CopyTo(dStep.AsSpan(i * g3, g3));
                    }
                    // dh_prev += dGh · W_hh for the running prefix.
                    TrainingGemm.AddAB(dStep.AsSpan(0, active * g3), active, recurrentT, dState.AsSpan(0, active * h), accumulate: true, Context);
                }
                if (weightHh.RequiresGrad) TrainingGemm.AddAtB(dGh, rows, g3, previous, h, weightHh.GradBuffer(), Context);
                if (biasHh.RequiresGrad)
                {
                    var gb = biasHh.GradBuffer();
                    for (int r = 0; r < rows; r++) TensorPrimitives.Add(gb, dGh.AsSpan(r * g3, g3), gb);
                }
            });
        return result;
    }

    private static float Sigmoid(float v) => 1f / (1f + MathF.Exp(-v));
}
