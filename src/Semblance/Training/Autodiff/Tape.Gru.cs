// Tape GRU layer over packed sequences (PyTorch nn.GRU gate order and equations), with back-propagation through time.
using System.Numerics.Tensors;

namespace Semblance.Training.Autodiff;

public sealed partial class Tape
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
        var gi = new float[rows * g3];
        TrainingGemm.ABt(x.Data, rows, x.Cols, weightIh.Data, g3, gi, Context);
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(gi.AsSpan(r * g3, g3), biasIh.Data, gi.AsSpan(r * g3, g3));

        var y = new float[rows * h];
        // Saved per row for the backward pass: gates r, z, n, the recurrent n-term W_hn h + b_hn, and h_prev.
        var gates = new float[rows * 4 * h];
        var previous = new float[rows * h];
        var gh = new float[g3];
        for (int s = 0; s + 1 < offsets.Length; s++)
        {
            var hPrev = new float[h];
            foreach (int row in Steps(offsets[s], offsets[s + 1], reverse))
            {
                for (int j = 0; j < g3; j++) gh[j] = TensorPrimitives.Dot(weightHh.Row(j), hPrev) + biasHh.Data[j];
                var gRow = gates.AsSpan(row * 4 * h, 4 * h);
                var giRow = gi.AsSpan(row * g3, g3);
                for (int j = 0; j < h; j++)
                {
                    float rg = Sigmoid(giRow[j] + gh[j]);
                    float zg = Sigmoid(giRow[h + j] + gh[h + j]);
                    float ng = MathF.Tanh(giRow[2 * h + j] + rg * gh[2 * h + j]);
                    gRow[j] = rg;
                    gRow[h + j] = zg;
                    gRow[2 * h + j] = ng;
                    gRow[3 * h + j] = gh[2 * h + j];
                    previous[row * h + j] = hPrev[j];
                    y[row * h + j] = (1 - zg) * ng + zg * hPrev[j];
                }
                y.AsSpan(row * h, h).CopyTo(hPrev);
            }
        }
        bool tracked = IsRecording && (x.RequiresGrad || weightIh.RequiresGrad || weightHh.RequiresGrad || biasIh.RequiresGrad || biasHh.RequiresGrad);
        var result = new Tensor(y, rows, h, tracked);
        if (tracked)
            Record(() =>
            {
                if (result.Grad is not { } g) return;
                var dGi = new float[rows * g3];
                var dWhh = new float[g3 * h];
                var dBhh = new float[g3];
                var dGh = new float[g3];
                for (int s = 0; s + 1 < offsets.Length; s++)
                {
                    var dh = new float[h];
                    foreach (int row in Steps(offsets[s], offsets[s + 1], !reverse))
                    {
                        TensorPrimitives.Add(dh, g.AsSpan(row * h, h), dh);
                        var gRow = gates.AsSpan(row * 4 * h, 4 * h);
                        var hPrev = previous.AsSpan(row * h, h);
                        var dGiRow = dGi.AsSpan(row * g3, g3);
                        for (int j = 0; j < h; j++)
                        {
                            float rg = gRow[j], zg = gRow[h + j], ng = gRow[2 * h + j], hn = gRow[3 * h + j];
                            float dn = dh[j] * (1 - zg) * (1 - ng * ng);
                            float dz = dh[j] * (hPrev[j] - ng) * zg * (1 - zg);
                            float dr = dn * hn * rg * (1 - rg);
                            dGiRow[j] = dr;
                            dGiRow[h + j] = dz;
                            dGiRow[2 * h + j] = dn;
                            dGh[j] = dr;
                            dGh[h + j] = dz;
                            dGh[2 * h + j] = dn * rg;
                            dh[j] *= zg;
                        }
                        TensorPrimitives.Add(dBhh, dGh, dBhh);
                        for (int k = 0; k < g3; k++)
                        {
                            if (dGh[k] == 0f) continue;
                            var w = weightHh.Row(k);
                            TensorPrimitives.MultiplyAdd(w, dGh[k], dh, dh);
                            var dw = dWhh.AsSpan(k * h, h);
                            TensorPrimitives.MultiplyAdd(hPrev, dGh[k], dw, dw);
                        }
                    }
                }
                if (weightHh.RequiresGrad) AddInto(weightHh.GradBuffer(), dWhh);
                if (biasHh.RequiresGrad) AddInto(biasHh.GradBuffer(), dBhh);
                if (biasIh.RequiresGrad)
                {
                    var gb = biasIh.GradBuffer();
                    for (int r = 0; r < rows; r++) TensorPrimitives.Add(gb, dGi.AsSpan(r * g3, g3), gb);
                }
                if (weightIh.RequiresGrad) TrainingGemm.AddAtB(dGi, rows, g3, x.Data, x.Cols, weightIh.GradBuffer(), Context);
                if (x.RequiresGrad) TrainingGemm.AddAB(dGi, rows, g3, weightIh.Data, x.Cols, x.GradBuffer(), Context);
            });
        return result;
    }

    private static float Sigmoid(float v) => 1f / (1f + MathF.Exp(-v));

    private static IEnumerable<int> Steps(int start, int end, bool reverse)
    {
        if (reverse)
            for (int i = end - 1; i >= start; i--) yield return i;
        else
            for (int i = start; i < end; i++) yield return i;
    }
}
