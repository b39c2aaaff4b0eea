// BERT (Devlin et al., 2019) exactly as transformers v4.31 BertModel computes it: post-LN layers, learned absolute
// positions. Each module is written once and has two executions: inference on workspace spans and recording on a tape.
using System.Numerics.Tensors;
using Tensor = Semblance.Training.Autodiff.Tensor;
using Semblance.Embeddings;
using Semblance.Numerics;
using Semblance.Training.Autodiff;

namespace Semblance.Models;

/// <summary>
/// LayerNorm(word[id] + token_type[type] + position[p]) over E (hidden_size; RoFormer's embedding_size). RoFormer has
/// no position term: its positions enter attention by rotation.
/// </summary>
internal sealed class BertEmbeddings
{
    private readonly ModelParameter _word;
    private readonly ModelParameter? _position;
    private readonly ModelParameter _tokenType;
    private readonly LayerNorm _layerNorm;

    private BertEmbeddings(ModelParameter word, ModelParameter? position, ModelParameter tokenType, LayerNorm layerNorm)
    {
        _word = word;
        _position = position;
        _tokenType = tokenType;
        _layerNorm = layerNorm;
    }

    /// <summary>word_embeddings.weight [vocab, E], which a masked-LM head's decoder is tied to.</summary>
    public ModelParameter WordEmbeddings => _word;

    public IEnumerable<ModelParameter> Parameters =>
        new[] { _word, _position, _tokenType }.OfType<ModelParameter>().Concat(_layerNorm.Parameters);

    public static BertEmbeddings Load(WeightView w, TransformerConfig c)
    {
        int e = c.IsRoFormer ? c.EmbeddingSize : c.HiddenSize;
        var word = ModelParameter.Load(w, "word_embeddings.weight", c.VocabSize, e);
        var position = c.IsRoFormer ? null : ModelParameter.Load(w, "position_embeddings.weight", c.MaxPositionEmbeddings, e);
        var tokenType = ModelParameter.Load(w, "token_type_embeddings.weight", c.TypeVocabSize, e);
        return new BertEmbeddings(word, position, tokenType, LayerNorm.Load(w.Prefix("LayerNorm"), e, c.LayerNormEps));
    }

    /// <summary>The inference execution; with <paramref name="cached"/>, sequence b's rows continue at its cached length.</summary>
    public void Forward(TokenBatch batch, Span<float> sum, Span<float> output, ComputeContext ctx, CachedRows? cached = null)
    {
        int e = _layerNorm.Size;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int start = batch.Offsets[b], first = cached?.FirstPosition(b) ?? 0;
            for (int p = 0; p < batch.Length(b); p++)
            {
                int row = start + p;
                var dst = sum.Slice(row * e, e);
                // Same addition order as the reference: (word + token_type) + position.
                _word.CopyRow(batch.Ids[row], dst);
                TensorPrimitives.Add(dst, _tokenType.Row(batch.TypeIds[row]), dst);
                if (_position is not null) TensorPrimitives.Add(dst, _position.Row(first + p), dst);
            }
        }
        _layerNorm.Forward(sum, output, batch.TokenCount, ctx);
    }

    /// <summary>The recording execution, with hidden dropout at site 0.</summary>
    public Tensor Forward(TapePass pass)
    {
        var tape = pass.Tape;
        var batch = pass.Batch;
        var x = tape.Add(tape.Embedding(_word.Trainable, batch.Ids), tape.Embedding(_tokenType.Trainable, batch.TypeIds));
        if (_position is not null)
        {
            var positions = new int[batch.TokenCount];
            for (int b = 0; b < batch.BatchSize; b++)
                for (int p = 0; p < batch.Length(b); p++) positions[batch.Offsets[b] + p] = p;
            x = tape.Add(x, tape.Embedding(_position.Trainable, positions));
        }
        return pass.Dropout(_layerNorm.Forward(tape, x), site: 0);
    }
}

/// <summary>
/// softmax(Q·Kᵀ/√d)·V per sequence and head (<see cref="Numerics.Attention"/>); with a rotary table (RoFormer) Q and K
/// (and V when rotary_value) are rotated first. Inference runs query, key and value as one stacked Linear.
/// </summary>
internal sealed class BertSelfAttention
{
    private readonly Linear _query;
    private readonly Linear _key;
    private readonly Linear _value;
    private readonly int _heads;
    private readonly int _headDim;
    private readonly RotaryEmbedding? _rotary;
    private readonly bool _rotaryValue;
    private readonly string _name;
    private Linear? _qkv;

    private BertSelfAttention(string name, Linear query, Linear key, Linear value, TransformerConfig c, RotaryEmbedding? rotary)
    {
        _name = name;
        _query = query;
        _key = key;
        _value = value;
        _heads = c.NumAttentionHeads;
        _headDim = c.HeadDim;
        _rotary = rotary;
        _rotaryValue = c.RotaryValue;
    }

    public IEnumerable<ModelParameter> Parameters => _query.Parameters.Concat(_key.Parameters).Concat(_value.Parameters);

    public static BertSelfAttention Load(WeightView w, TransformerConfig c, RotaryEmbedding? rotary)
    {
        int h = c.HiddenSize;
        return new BertSelfAttention(w.Path + "qkv", Linear.Load(w.Prefix("query"), h, h), Linear.Load(w.Prefix("key"), h, h), Linear.Load(w.Prefix("value"), h, h), c, rotary);
    }

    public void Pack(WeightPrecision precision) => _qkv = Linear.Stack(_name, precision, _query, _key, _value);

    /// <summary>
    /// Writes the per-head contexts, concatenated, to <c>ws.Context</c> [TokenCount, H]. With <paramref name="cached"/>
    /// the batch's rows are new rows of cached sequences: their keys and values join layer <paramref name="layer"/>'s
    /// cache and they attend to every cached row under the UniLM rule.
    /// </summary>
    public void Forward(ReadOnlySpan<float> hidden, TokenBatch batch, TransformerWorkspace ws, ComputeContext ctx, CachedRows? cached = null, int layer = 0)
    {
        var qkvLinear = _qkv ?? throw new InvalidOperationException($"{_name}: Pack() was not called before the inference forward");
        qkvLinear.Forward(hidden, batch.TokenCount, ws.Qkv, ctx);
        var qkv = ws.Qkv;
        int h = _heads * _headDim, stride = 3 * h;
        if (cached is not null)
        {
            ForwardCached(batch, ws, ctx, cached, layer);
            return;
        }
        Numerics.Attention.PairTransform? rotate = null;
        int trainLength = ws.EntropyTrainLength;
        if (_rotary is not null || trainLength > 0)
        {
            var rotary = _rotary;
            rotate = (_, head, start, length) =>
            {
                int q = start * stride + head * _headDim;
                if (rotary is not null)
                {
                    rotary.Rotate(qkv.AsSpan(q), length, stride);
                    rotary.Rotate(qkv.AsSpan(q + h), length, stride);
                    if (_rotaryValue) rotary.Rotate(qkv.AsSpan(q + 2 * h), length, stride);
                }
                // Entropy-invariant scale: multiplying this head's queries by log n / log N multiplies its logits by it.
                float factor = ForwardRequest.EntropyFactor(length, trainLength);
                if (factor != 1f)
                    for (int t = 0; t < length; t++) System.Numerics.Tensors.TensorPrimitives.Multiply(qkv.AsSpan(q + t * stride, _headDim), factor, qkv.AsSpan(q + t * stride, _headDim));
            };
        }
        var mask = Seq2SeqMask.For(batch);
        Numerics.Attention.MultiHead(qkv, qkv.AsSpan(h), qkv.AsSpan(2 * h), stride, batch.Offsets, _heads, _headDim, ws.Context, h, ctx,
            Numerics.Attention.DefaultScale(_headDim), rotate, mask);
    }

    /// <summary>Attention of the new rows (already projected into <c>ws.Qkv</c>) against the cache plus themselves.</summary>
    private void ForwardCached(TokenBatch batch, TransformerWorkspace ws, ComputeContext ctx, CachedRows cached, int layer)
    {
        var qkv = ws.Qkv;
        var cache = cached.Cache;
        int h = _heads * _headDim, stride = 3 * h, n = batch.BatchSize;
        float[] keys = cache.Keys(layer), values = cache.Values(layer);
        var keyStarts = new int[n];
        var keyCounts = new int[n];
        var first = new int[n];
        for (int b = 0; b < n; b++)
        {
            int slot = cached.Slots[b], start = batch.Offsets[b], m = batch.Length(b);
            first[b] = cached.FirstPosition(b);
            keyStarts[b] = cache.SlotStart(slot);
            keyCounts[b] = first[b] + m;
            for (int p = 0; p < m; p++)
            {
                int row = (keyStarts[b] + first[b] + p) * h;
                qkv.AsSpan((start + p) * stride + h, h).CopyTo(keys.AsSpan(row, h));
                qkv.AsSpan((start + p) * stride + 2 * h, h).CopyTo(values.AsSpan(row, h));
            }
        }
        Numerics.Attention.PairTransform? rotate = null;
        if (_rotary is { } rotary)
        {
            rotate = (b, head, start, length) =>
            {
                int at = (keyStarts[b] + first[b]) * h + head * _headDim;
                rotary.Rotate(qkv.AsSpan(start * stride + head * _headDim), length, stride, first[b]);
                rotary.Rotate(keys.AsSpan(at), length, h, first[b]);
                if (_rotaryValue) rotary.Rotate(values.AsSpan(at), length, h, first[b]);
            };
        }
        Numerics.Attention.MultiHead(qkv, stride, batch.Offsets, keys, values, h, keyStarts, keyCounts, _heads, _headDim, ws.Context, h, ctx,
            Numerics.Attention.DefaultScale(_headDim), rotate, (b, queries, count, additive) => cache.FillMask(cached.Slots[b], queries, count, additive));
    }

    /// <summary>The recording execution; attention-probability dropout at <paramref name="site"/>.</summary>
    public Tensor Forward(TapePass pass, Tensor input, int site)
    {
        var tape = pass.Tape;
        var q = _query.Forward(tape, input);
        var k = _key.Forward(tape, input);
        var v = _value.Forward(tape, input);
        if (_rotary is not null)
        {
            q = _rotary.Forward(pass, q, _heads);
            k = _rotary.Forward(pass, k, _heads);
            if (_rotaryValue) v = _rotary.Forward(pass, v, _heads);
        }
        return tape.Attention(q, k, v, pass.Batch.Offsets, _heads, pass.AttentionDropout, pass.SequenceKeys, site, Seq2SeqMask.For(pass.Batch));
    }
}

/// <summary>intermediate: act(dense(x)), H → intermediate_size.</summary>
internal sealed class BertIntermediate(Linear dense, HiddenActivation activation)
{
    public IEnumerable<ModelParameter> Parameters => dense.Parameters;

    public static BertIntermediate Load(WeightView w, TransformerConfig c) =>
        new(Linear.Load(w.Prefix("dense"), c.IntermediateSize, c.HiddenSize), c.Activation);

    public void Pack(WeightPrecision precision, LayerNorm? inputNorm) => dense.Pack(precision, inputNorm);

    public void Forward(TokenBatch batch, TransformerWorkspace ws, ComputeContext ctx)
    {
        var y = ws.Intermediate.AsSpan(0, batch.TokenCount * dense.OutFeatures);
        dense.Forward(ws.Attention, batch.TokenCount, activation.ToEpilogue(), y, ctx);
    }

    public Tensor Forward(Tape tape, Tensor x) => tape.Activation(dense.Forward(tape, x), activation);
}

/// <summary>
/// One post-LN layer: attention.self, attention.output = LayerNorm(dense(context) + input), intermediate, and
/// output = LayerNorm(dense(intermediate) + attention output). Dropout sites 1 + 3l (attention probabilities),
/// 2 + 3l and 3 + 3l (the two dense outputs) for layer l.
/// </summary>
internal sealed class BertLayer(int index, BertSelfAttention attention, DenseResidualNorm attentionOutput, BertIntermediate intermediate, DenseResidualNorm output)
{
    public IEnumerable<ModelParameter> Parameters =>
        attention.Parameters.Concat(attentionOutput.Parameters).Concat(intermediate.Parameters).Concat(output.Parameters);

    public static BertLayer Load(int index, WeightView w, TransformerConfig c, RotaryEmbedding? rotary) => new(index,
        BertSelfAttention.Load(w.Prefix("attention.self"), c, rotary),
        DenseResidualNorm.Load(w.Prefix("attention.output"), c.HiddenSize, c),
        BertIntermediate.Load(w.Prefix("intermediate"), c),
        DenseResidualNorm.Load(w.Prefix("output"), c.IntermediateSize, c));

    /// <summary>
    /// Packs the layer's Linears; at int8 all four (Q/K/V stacked, attention.output.dense, intermediate.dense smoothed
    /// by the attention LayerNorm, output.dense) run int8, with asymmetric per-row activation codes and each row's 4
    /// largest entries in float32 (<see cref="Linear.Int8RowOutliers"/>). Chosen by measurement on the STS-B test
    /// sentences (per-sentence cosine to float32, docs/BENCHMARKS.md): all-MiniLM-L6-v2's minimum is 0.997 (0.982 with
    /// symmetric codes and no outliers, which is why Q/K/V and output.dense used to stay float32). At fp16/bf16 all four
    /// are 16-bit.
    /// </summary>
    public void Pack(WeightPrecision precision)
    {
        attention.Pack(precision);
        attentionOutput.Pack(precision);
        intermediate.Pack(precision, attentionOutput.Norm);
        output.Pack(precision);
    }

    public void Forward(ReadOnlySpan<float> input, Span<float> result, TokenBatch batch, TransformerWorkspace ws, ComputeContext ctx, CachedRows? cached = null)
    {
        int rows = batch.TokenCount;
        attention.Forward(input, batch, ws, ctx, cached, index);
        attentionOutput.Forward(ws.Context, input, ws.Sum, ws.Attention, rows, ctx);
        intermediate.Forward(batch, ws, ctx);
        output.Forward(ws.Intermediate, ws.Attention, ws.Sum, result, rows, ctx);
    }

    public Tensor Forward(TapePass pass, Tensor input)
    {
        int site = 1 + 3 * index;
        var context = attention.Forward(pass, input, site);
        var attended = attentionOutput.Forward(pass, context, input, site + 1);
        return output.Forward(pass, intermediate.Forward(pass.Tape, attended), attended, site + 2);
    }
}

internal sealed class BertEncoder(BertLayer[] layers)
{
    public IEnumerable<ModelParameter> Parameters => layers.SelectMany(l => l.Parameters);

    public static BertEncoder Load(WeightView w, TransformerConfig c, RotaryEmbedding? rotary)
    {
        var layers = new BertLayer[c.NumHiddenLayers];
        for (int l = 0; l < layers.Length; l++) layers[l] = BertLayer.Load(l, w.Prefix($"layer.{l}"), c, rotary);
        return new BertEncoder(layers);
    }

    public void Pack(WeightPrecision precision)
    {
        foreach (var layer in layers) layer.Pack(precision);
    }

    /// <summary>Runs every layer; layer l reads hidden state l and writes hidden state l + 1.</summary>
    public void Forward(TokenBatch batch, TransformerWorkspace ws, ComputeContext ctx, CachedRows? cached = null)
    {
        for (int l = 0; l < layers.Length; l++) layers[l].Forward(ws.Hidden(l), ws.Hidden(l + 1), batch, ws, ctx, cached);
    }

    /// <summary>The first layer's output and the last one's.</summary>
    public (Tensor First, Tensor Last) Forward(TapePass pass, Tensor x)
    {
        Tensor? first = null;
        foreach (var layer in layers)
        {
            x = layer.Forward(pass, x);
            first ??= x;
        }
        return (first ?? x, x);
    }
}

/// <summary>pooler: tanh(dense(h[CLS])) per sequence (Hugging Face's BertPooler); without tanh, the linear pooler.</summary>
internal sealed class BertPooler(Linear dense)
{
    public IEnumerable<ModelParameter> Parameters => dense.Parameters;

    public static BertPooler Load(WeightView w, TransformerConfig c) => new(Linear.Load(w.Prefix("dense"), c.HiddenSize, c.HiddenSize));

    public void Pack() => dense.Pack();

    public void Forward(ReadOnlySpan<float> last, TokenBatch batch, TransformerWorkspace ws, ComputeContext ctx, bool tanh = true)
    {
        int h = dense.OutFeatures, n = batch.BatchSize * h;
        Pooling.PoolRows(PoolingMode.Cls, default, last, batch.Offsets, h, ws.ClsRows);
        var y = ws.Pooler.AsSpan(0, n);
        dense.Forward(ws.ClsRows, batch.BatchSize, y, ctx);
        if (tanh) Kernels.Tanh(y, y);
    }

    public Tensor Forward(TapePass pass, Tensor last, bool tanh = true)
    {
        var linear = dense.Forward(pass.Tape, pass.Tape.Pool(PoolingMode.Cls, null, last, pass.Batch.Offsets));
        return tanh ? pass.Tape.Tanh(linear) : linear;
    }
}
