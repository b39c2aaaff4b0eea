// RoFormer's rotary position embedding (Su et al., 2021, "RoFormer: Enhanced Transformer with Rotary Position
// Embedding") as transformers v4.31 computes it; the rest of RoFormer is BERT's modules (see TransformerNetwork).
using Semblance.Training.Autodiff;

namespace Semblance.Models;

/// <summary>
/// The sinusoidal table of <c>encoder.embed_positions</c>: row p = [sin(p·θ_0) … sin(p·θ_{d/2−1}), cos(p·θ_0) … cos(p·θ_{d/2−1})],
/// θ_j = 10000^(−2j/d), d = head dim. Rotation acts on interleaved pairs (x_{2j}, x_{2j+1}):
/// x'_{2j} = x_{2j}·cos − x_{2j+1}·sin, x'_{2j+1} = x_{2j+1}·cos + x_{2j}·sin.
/// </summary>
internal sealed class RotaryEmbedding
{
    private readonly ModelParameter _table;
    private readonly int _dim;

    private RotaryEmbedding(ModelParameter table, int dim)
    {
        _table = table;
        _dim = dim;
    }

    /// <summary>A buffer, not a parameter: saved with the model, never trained.</summary>
    public ModelParameter Table => _table;

    /// <summary>The checkpoint's table when present (it is a buffer, not a parameter), else computed in float64 as HF does.</summary>
    public static RotaryEmbedding Load(WeightView w, TransformerConfig c)
    {
        int d = c.HeadDim;
        const string name = "embed_positions.weight";
        var table = w.Contains(name)
            ? w.Get(name, c.MaxPositionEmbeddings, d)
            : new FloatTensor(w.Path + name, [c.MaxPositionEmbeddings, d], Compute(c.MaxPositionEmbeddings, d));
        return new RotaryEmbedding(new ModelParameter(w.ModelName(name), table, requiresGrad: false), d);
    }

    public static float[] Compute(int positions, int dim)
    {
        int half = dim / 2;
        var table = new float[positions * dim];
        for (int p = 0; p < positions; p++)
        {
            for (int j = 0; j < half; j++)
            {
                double angle = p / Math.Pow(10000.0, 2.0 * j / dim);
                table[p * dim + j] = (float)Math.Sin(angle);
                table[p * dim + half + j] = (float)Math.Cos(angle);
            }
        }
        return table;
    }

    /// <summary>
    /// Rotates <paramref name="rows"/> head vectors of length d, <paramref name="stride"/> apart, row t at position
    /// <paramref name="firstPosition"/> + t (a decoder step's new rows continue after the cached ones).
    /// </summary>
    public void Rotate(Span<float> x, int rows, int stride, int firstPosition = 0) => Rotate(_table.Span, _dim, x, rows, stride, 1f, firstPosition);

    /// <summary>
    /// The rotation kernel both executions run, in place: <paramref name="direction"/> 1 rotates by +p·θ (the
    /// forward), −1 by −p·θ (the tape's backward step, the inverse rotation).
    /// </summary>
    public static void Rotate(ReadOnlySpan<float> table, int d, Span<float> x, int rows, int stride, float direction, int firstPosition = 0)
    {
        int half = d / 2;
        if ((firstPosition + rows) * d > table.Length) throw new ArgumentException($"rotary: position {firstPosition + rows - 1} is beyond the {table.Length / d}-row table");
        for (int t = 0; t < rows; t++)
        {
            var row = x.Slice(t * stride, d);
            int p = firstPosition + t;
            var sin = table.Slice(p * d, half);
            var cos = table.Slice(p * d + half, half);
            for (int j = 0; j < half; j++)
            {
                float a = row[2 * j], b = row[2 * j + 1], sn = direction * sin[j];
                row[2 * j] = a * cos[j] - b * sn;
                row[2 * j + 1] = b * cos[j] + a * sn;
            }
        }
    }

    /// <summary>The recording execution: every head of [tokens, heads·d] rotated by its position in its sequence.</summary>
    public Tensor Forward(TapePass pass, Tensor x, int heads) => pass.Tape.Rotary(x, pass.Batch.Offsets, heads, _table.Trainable.Data);
}
