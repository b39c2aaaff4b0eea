// BERT (Devlin et al., 2019) exactly as transformers v4.31 BertModel computes it: post-LN layers, learned absolute positions.
using System.Numerics.Tensors;
using Semblance.Numerics;

namespace Semblance.Models;

/// <summary>LayerNorm(word[id] + token_type[type] + position[p]) over E = hidden_size.</summary>
internal sealed class BertEmbeddings
{
    private readonly FloatTensor _word;
    private readonly FloatTensor _position;
    private readonly FloatTensor _tokenType;
    private readonly LayerNorm _layerNorm;

    private BertEmbeddings(FloatTensor word, FloatTensor position, FloatTensor tokenType, LayerNorm layerNorm)
    {
        _word = word;
        _position = position;
        _tokenType = tokenType;
        _layerNorm = layerNorm;
    }

    public static BertEmbeddings Load(WeightView w, TransformerConfig c) => new(
        w.Get("word_embeddings.weight", c.VocabSize, c.HiddenSize),
        w.Get("position_embeddings.weight", c.MaxPositionEmbeddings, c.HiddenSize),
        w.Get("token_type_embeddings.weight", c.TypeVocabSize, c.HiddenSize),
        LayerNorm.Load(w.Prefix("LayerNorm"), c.HiddenSize, c.LayerNormEps));

    public void Forward(TokenBatch batch, Span<float> sum, Span<float> output, ComputeContext ctx)
    {
        int h = _layerNorm.Size;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int start = batch.Offsets[b];
            for (int p = 0; p < batch.Length(b); p++)
            {
                int row = start + p;
                var dst = sum.Slice(row * h, h);
                // Same addition order as the reference: (word + token_type) + position.
                TensorPrimitives.Add(_word.Row(batch.Ids[row]), _tokenType.Row(batch.TypeIds[row]), dst);
                TensorPrimitives.Add(dst, _position.Row(p), dst);
            }
        }
        _layerNorm.Forward(sum, output, batch.TokenCount, ctx);
    }
}

/// <summary>
/// softmax(Q·Kᵀ/√d)·V per sequence and head, Q|K|V from one fused Linear; with a rotary table (RoFormer) Q and K
/// (and V when rotary_value) are rotated first.
/// </summary>
internal sealed class BertSelfAttention
{
    private readonly Linear _qkv;
    private readonly int _heads;
    private readonly int _headDim;
    private readonly float _scale;
    private readonly RotaryEmbedding? _rotary;
    private readonly bool _rotaryValue;

    private BertSelfAttention(Linear qkv, TransformerConfig c, RotaryEmbedding? rotary)
    {
        _qkv = qkv;
        _heads = c.NumAttentionHeads;
        _headDim = c.HeadDim;
        _scale = (float)(1.0 / Math.Sqrt(c.HeadDim));
        _rotary = rotary;
        _rotaryValue = c.RotaryValue;
    }

    public static BertSelfAttention Load(WeightView w, TransformerConfig c, RotaryEmbedding? rotary)
    {
        int h = c.HiddenSize;
        var qkv = Linear.Fuse(w.Path + "qkv", h, (w.Prefix("query"), h), (w.Prefix("key"), h), (w.Prefix("value"), h));
        return new BertSelfAttention(qkv, c, rotary);
    }

    /// <summary>Writes the per-head contexts, concatenated, to <c>ws.Context</c> [TokenCount, H].</summary>
    public void Forward(ReadOnlySpan<float> hidden, TokenBatch batch, TransformerWorkspace ws, ComputeContext ctx)
    {
        _qkv.Forward(hidden, batch.TokenCount, ws.Qkv, ctx);
        int pairs = batch.BatchSize * _heads;
        int workers = Math.Min(ctx.Threads, pairs);
        int next = 0;
        // Workers pull (sequence, head) pairs from a shared counter: sequences differ in length, so a static split
        // would leave threads idle. Each worker owns one score matrix.
        ctx.For(workers, w =>
        {
            var scores = ws.Scores[w];
            int pair;
            while ((pair = Interlocked.Increment(ref next) - 1) < pairs)
                Attend(batch, pair / _heads, pair % _heads, ws.Qkv, ws.Context, scores);
        });
    }

    private void Attend(TokenBatch batch, int sequence, int head, float[] qkv, float[] context, float[] scores)
    {
        int h = _heads * _headDim, stride = 3 * h, d = _headDim;
        int start = batch.Offsets[sequence], t = batch.Length(sequence);
        int q = start * stride + head * d, k = q + h, v = q + 2 * h;
        if (_rotary is not null)
        {
            _rotary.Rotate(qkv.AsSpan(q), t, stride);
            _rotary.Rotate(qkv.AsSpan(k), t, stride);
            if (_rotaryValue) _rotary.Rotate(qkv.AsSpan(v), t, stride);
        }
        var s = scores.AsSpan(0, t * t);
        Gemm.MultiplyABt(t, t, d, _scale, qkv.AsSpan(q), stride, qkv.AsSpan(k), stride, s, t);
        Kernels.SoftmaxRows(s, t, t, t);
        Gemm.MultiplyAB(t, d, t, s, t, qkv.AsSpan(v), stride, context.AsSpan(start * h + head * d), h);
    }
}

/// <summary>LayerNorm(dense(x) + residual): the tail of the attention block and of the feed-forward block.</summary>
internal sealed class DenseResidualNorm
{
    private readonly Linear _dense;
    private readonly LayerNorm _layerNorm;

    private DenseResidualNorm(Linear dense, LayerNorm layerNorm)
    {
        _dense = dense;
        _layerNorm = layerNorm;
    }

    public static DenseResidualNorm Load(WeightView w, int inFeatures, TransformerConfig c) => new(
        Linear.Load(w.Prefix("dense"), c.HiddenSize, inFeatures),
        LayerNorm.Load(w.Prefix("LayerNorm"), c.HiddenSize, c.LayerNormEps));

    public void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> residual, Span<float> sum, Span<float> output, int rows, ComputeContext ctx)
    {
        _dense.Forward(x, rows, residual, sum, ctx);
        _layerNorm.Forward(sum, output, rows, ctx);
    }
}

/// <summary>attention.output: LayerNorm(dense(context) + layer input).</summary>
internal sealed class BertSelfOutput(DenseResidualNorm block)
{
    public static BertSelfOutput Load(WeightView w, TransformerConfig c) => new(DenseResidualNorm.Load(w, c.HiddenSize, c));

    public void Forward(TokenBatch batch, TransformerWorkspace ws, ReadOnlySpan<float> input, ComputeContext ctx) =>
        block.Forward(ws.Context, input, ws.Sum, ws.Attention, batch.TokenCount, ctx);
}

/// <summary>intermediate: act(dense(x)), H → intermediate_size.</summary>
internal sealed class BertIntermediate(Linear dense, HiddenActivation activation)
{
    public static BertIntermediate Load(WeightView w, TransformerConfig c) =>
        new(Linear.Load(w.Prefix("dense"), c.IntermediateSize, c.HiddenSize), c.Activation);

    public void Forward(TokenBatch batch, TransformerWorkspace ws, ComputeContext ctx)
    {
        var y = ws.Intermediate.AsSpan(0, batch.TokenCount * dense.OutFeatures);
        dense.Forward(ws.Attention, batch.TokenCount, Activation.ToEpilogue(activation), y, ctx);
    }
}

/// <summary>output: LayerNorm(dense(intermediate) + attention output), intermediate_size → H.</summary>
internal sealed class BertOutput(DenseResidualNorm block)
{
    public static BertOutput Load(WeightView w, TransformerConfig c) => new(DenseResidualNorm.Load(w, c.IntermediateSize, c));

    public void Forward(TokenBatch batch, TransformerWorkspace ws, Span<float> output, ComputeContext ctx) =>
        block.Forward(ws.Intermediate, ws.Attention, ws.Sum, output, batch.TokenCount, ctx);
}

internal sealed class BertLayer(BertSelfAttention attention, BertSelfOutput attentionOutput, BertIntermediate intermediate, BertOutput output)
{
    public static BertLayer Load(WeightView w, TransformerConfig c, RotaryEmbedding? rotary) => new(
        BertSelfAttention.Load(w.Prefix("attention.self"), c, rotary),
        BertSelfOutput.Load(w.Prefix("attention.output"), c),
        BertIntermediate.Load(w.Prefix("intermediate"), c),
        BertOutput.Load(w.Prefix("output"), c));

    public void Forward(ReadOnlySpan<float> input, Span<float> result, TokenBatch batch, TransformerWorkspace ws, ComputeContext ctx)
    {
        attention.Forward(input, batch, ws, ctx);
        attentionOutput.Forward(batch, ws, input, ctx);
        intermediate.Forward(batch, ws, ctx);
        output.Forward(batch, ws, result, ctx);
    }
}

internal sealed class BertEncoder(BertLayer[] layers)
{
    public static BertEncoder Load(WeightView w, TransformerConfig c, RotaryEmbedding? rotary)
    {
        w.RequireLayers(c.NumHiddenLayers, "attention.self.query.weight");
        var layers = new BertLayer[c.NumHiddenLayers];
        for (int l = 0; l < layers.Length; l++) layers[l] = BertLayer.Load(w.Prefix($"layer.{l}"), c, rotary);
        return new BertEncoder(layers);
    }

    /// <summary>Runs every layer; layer l reads hidden state l and writes hidden state l + 1.</summary>
    public void Forward(TokenBatch batch, TransformerWorkspace ws, ComputeContext ctx)
    {
        for (int l = 0; l < layers.Length; l++) layers[l].Forward(ws.Hidden(l), ws.Hidden(l + 1), batch, ws, ctx);
    }
}

/// <summary>pooler: tanh(dense(h[CLS])) per sequence.</summary>
internal sealed class BertPooler(Linear dense)
{
    public static BertPooler Load(WeightView w, TransformerConfig c) => new(Linear.Load(w.Prefix("dense"), c.HiddenSize, c.HiddenSize));

    public void Forward(ReadOnlySpan<float> last, TokenBatch batch, TransformerWorkspace ws, ComputeContext ctx)
    {
        int h = dense.OutFeatures, n = batch.BatchSize * h;
        for (int b = 0; b < batch.BatchSize; b++) last.Slice(batch.Offsets[b] * h, h).CopyTo(ws.ClsRows.AsSpan(b * h));
        var y = ws.Pooler.AsSpan(0, n);
        dense.Forward(ws.ClsRows, batch.BatchSize, y, ctx);
        Kernels.Tanh(y, y);
    }
}

/// <summary>
/// Hugging Face <c>BertModel</c> (also ERNIE checkpoints without task-type embeddings, which are the same network).
/// Tensor names are the checkpoint's; <c>bert.</c>-prefixed task-head checkpoints load too, and a checkpoint
/// without <c>pooler.*</c> (BertForMaskedLM, ...) loads as a model without pooler.
/// </summary>
public sealed class BertModel : EncoderModel
{
    private readonly BertEmbeddings _embeddings;

    private BertModel(TransformerConfig config, ModelWeights weights, BertEmbeddings embeddings, BertEncoder encoder, BertPooler? pooler)
        : base(config, weights, encoder, pooler) => _embeddings = embeddings;

    /// <summary>Builds the model from loaded weights; on success the model owns (and disposes) them.</summary>
    public static BertModel Load(TransformerConfig config, ModelWeights weights)
    {
        if (config.IsRoFormer) throw new ArgumentException("a RoFormer config needs RoFormerModel", nameof(config));
        var root = weights.Detect("embeddings.word_embeddings.weight", new[] { "", "bert.", config.ModelType + "." }.Distinct());
        var embeddings = BertEmbeddings.Load(root.Prefix("embeddings"), config);
        var encoder = BertEncoder.Load(root.Prefix("encoder"), config, rotary: null);
        var pooler = root.Contains("pooler.dense.weight") || root.Contains("pooler.dense.bias")
            ? BertPooler.Load(root.Prefix("pooler"), config)
            : null;
        return new BertModel(config, weights, embeddings, encoder, pooler);
    }

    private protected override void Embed(TokenBatch batch, TransformerWorkspace ws, Span<float> output, ComputeContext ctx) =>
        _embeddings.Forward(batch, ws.Embedding, output, ctx);
}
