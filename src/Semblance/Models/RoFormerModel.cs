// RoFormer (Su et al., 2021, "RoFormer: Enhanced Transformer with Rotary Position Embedding") as transformers v4.31 computes it.
using System.Numerics.Tensors;
using Semblance.Numerics;

namespace Semblance.Models;

/// <summary>
/// The sinusoidal table of <c>encoder.embed_positions</c>: row p = [sin(p·θ_0) … sin(p·θ_{d/2−1}), cos(p·θ_0) … cos(p·θ_{d/2−1})],
/// θ_j = 10000^(−2j/d), d = head dim. Rotation acts on interleaved pairs (x_{2j}, x_{2j+1}):
/// x'_{2j} = x_{2j}·cos − x_{2j+1}·sin, x'_{2j+1} = x_{2j+1}·cos + x_{2j}·sin.
/// </summary>
internal sealed class RotaryEmbedding
{
    private readonly FloatTensor _table;
    private readonly int _dim;

    private RotaryEmbedding(FloatTensor table, int dim)
    {
        _table = table;
        _dim = dim;
    }

    /// <summary>The checkpoint's table when present (it is a buffer, not a parameter), else computed in float64 as HF does.</summary>
    public static RotaryEmbedding Load(WeightView w, TransformerConfig c)
    {
        int d = c.HeadDim;
        if (w.Contains("embed_positions.weight"))
            return new RotaryEmbedding(w.Get("embed_positions.weight", c.MaxPositionEmbeddings, d), d);
        var computed = Table(c.MaxPositionEmbeddings, d);
        return new RotaryEmbedding(new FloatTensor(w.Path + "embed_positions.weight", [c.MaxPositionEmbeddings, d], computed), d);
    }

    public static float[] Table(int positions, int dim)
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

    /// <summary>Rotates <paramref name="rows"/> head vectors of length d, <paramref name="stride"/> apart, row t at position t.</summary>
    public void Rotate(Span<float> x, int rows, int stride)
    {
        var table = _table.Span;
        int d = _dim, half = d / 2;
        for (int t = 0; t < rows; t++)
        {
            var row = x.Slice(t * stride, d);
            var sin = table.Slice(t * d, half);
            var cos = table.Slice(t * d + half, half);
            for (int j = 0; j < half; j++)
            {
                float a = row[2 * j], b = row[2 * j + 1];
                row[2 * j] = a * cos[j] - b * sin[j];
                row[2 * j + 1] = b * cos[j] + a * sin[j];
            }
        }
    }
}

/// <summary>LayerNorm(word[id] + token_type[type]) over embedding_size; no position term (positions enter by rotation).</summary>
internal sealed class RoFormerEmbeddings
{
    private readonly FloatTensor _word;
    private readonly FloatTensor _tokenType;
    private readonly LayerNorm _layerNorm;

    private RoFormerEmbeddings(FloatTensor word, FloatTensor tokenType, LayerNorm layerNorm)
    {
        _word = word;
        _tokenType = tokenType;
        _layerNorm = layerNorm;
    }

    public int Size => _layerNorm.Size;

    public static RoFormerEmbeddings Load(WeightView w, TransformerConfig c) => new(
        w.Get("word_embeddings.weight", c.VocabSize, c.EmbeddingSize),
        w.Get("token_type_embeddings.weight", c.TypeVocabSize, c.EmbeddingSize),
        LayerNorm.Load(w.Prefix("LayerNorm"), c.EmbeddingSize, c.LayerNormEps));

    public void Forward(TokenBatch batch, Span<float> sum, Span<float> output, ComputeContext ctx)
    {
        int e = _layerNorm.Size;
        for (int row = 0; row < batch.TokenCount; row++)
            TensorPrimitives.Add(_word.Row(batch.Ids[row]), _tokenType.Row(batch.TypeIds[row]), sum.Slice(row * e, e));
        _layerNorm.Forward(sum, output, batch.TokenCount, ctx);
    }
}

/// <summary>
/// Hugging Face <c>RoFormerModel</c>: BERT's post-LN layers with rotary position embedding on queries and keys,
/// no absolute positions, no pooler, and an <c>embeddings_project</c> Linear when embedding_size ≠ hidden_size.
/// </summary>
public sealed class RoFormerModel : EncoderModel
{
    private readonly RoFormerEmbeddings _embeddings;
    private readonly Linear? _project;

    private RoFormerModel(TransformerConfig config, ModelWeights weights, RoFormerEmbeddings embeddings, Linear? project, BertEncoder encoder)
        : base(config, weights, encoder, pooler: null)
    {
        _embeddings = embeddings;
        _project = project;
    }

    /// <summary>Builds the model from loaded weights; on success the model owns (and disposes) them.</summary>
    public static RoFormerModel Load(TransformerConfig config, ModelWeights weights)
    {
        if (!config.IsRoFormer) throw new ArgumentException("RoFormerModel needs a roformer config", nameof(config));
        var root = weights.Detect("embeddings.word_embeddings.weight", ["", "roformer."]);
        var embeddings = RoFormerEmbeddings.Load(root.Prefix("embeddings"), config);
        var project = config.EmbeddingSize != config.HiddenSize
            ? Linear.Load(root.Prefix("embeddings_project"), config.HiddenSize, config.EmbeddingSize)
            : null;
        var rotary = RotaryEmbedding.Load(root.Prefix("encoder"), config);
        var encoder = BertEncoder.Load(root.Prefix("encoder"), config, rotary);
        return new RoFormerModel(config, weights, embeddings, project, encoder);
    }

    private protected override void Embed(TokenBatch batch, TransformerWorkspace ws, Span<float> output, ComputeContext ctx)
    {
        if (_project is null)
        {
            _embeddings.Forward(batch, ws.Embedding, output, ctx);
            return;
        }
        _embeddings.Forward(batch, ws.Embedding, ws.EmbeddingNorm, ctx);
        _project.Forward(ws.EmbeddingNorm, batch.TokenCount, output, ctx);
    }
}
