// The one definition of the BERT-family network (BERT, ERNIE without task types, RoFormer): which modules, in which
// order, under which checkpoint names; run for inference by TransformerModel and on the tape by TrainableTransformer.
using Semblance.Embeddings;
using Semblance.Numerics;
using Semblance.Training.Autodiff;

namespace Semblance.Models;

/// <summary>
/// embeddings → (RoFormer with embedding_size ≠ hidden_size: embeddings_project) → encoder → optional pooler; RoFormer
/// rotates queries and keys with the <c>encoder.embed_positions</c> table and has no pooler. Tensor names are the
/// bare model's (<c>embeddings.*</c>, <c>encoder.layer.N.*</c>, <c>pooler.*</c>); a task-head checkpoint's
/// <c>bert.</c>/<c>roformer.</c> prefix is found by <see cref="Root"/>, and heads (<c>classifier.</c>,
/// <c>cls.predictions.</c>) are modules loaded beside this one from the same checkpoint.
/// </summary>
internal sealed class TransformerNetwork
{
    private readonly BertEmbeddings _embeddings;
    private readonly Linear? _project;
    private readonly RotaryEmbedding? _rotary;
    private readonly BertEncoder _encoder;
    private readonly BertPooler? _pooler;

    private TransformerNetwork(TransformerConfig config, BertEmbeddings embeddings, Linear? project, RotaryEmbedding? rotary, BertEncoder encoder, BertPooler? pooler)
    {
        Config = config;
        _embeddings = embeddings;
        _project = project;
        _rotary = rotary;
        _encoder = encoder;
        _pooler = pooler;
    }

    public TransformerConfig Config { get; }

    public bool HasPooler => _pooler is not null;

    /// <summary>The word-embedding table, shared with a tied masked-LM decoder.</summary>
    public ModelParameter WordEmbeddings => _embeddings.WordEmbeddings;

    /// <summary>Every tensor in Hugging Face state_dict order (RoFormer's rotary table included, as a buffer).</summary>
    public IEnumerable<ModelParameter> Parameters
    {
        get
        {
            var all = _embeddings.Parameters;
            if (_project is not null) all = all.Concat(_project.Parameters);
            if (_rotary is not null) all = all.Append(_rotary.Table);
            all = all.Concat(_encoder.Parameters);
            return _pooler is null ? all : all.Concat(_pooler.Parameters);
        }
    }

    /// <summary>The view of a checkpoint under which the bare model's names resolve ("", "bert.", "roformer.", ...).</summary>
    public static WeightView Root(TransformerConfig config, ModelWeights weights) => config.IsRoFormer
        ? weights.Detect("embeddings.word_embeddings.weight", ["", "roformer."])
        : weights.Detect("embeddings.word_embeddings.weight", new[] { "", "bert.", config.ModelType + "." }.Distinct());

    /// <summary>Whether a checkpoint holds a pooler (BertForMaskedLM and RoFormer have none).</summary>
    public static bool HasPoolerWeights(TransformerConfig config, WeightView root) =>
        !config.IsRoFormer && (root.Contains("pooler.dense.weight") || root.Contains("pooler.dense.bias"));

    /// <summary>Loads every module from <paramref name="root"/>; the weights are read, not yet packed.</summary>
    public static TransformerNetwork Load(TransformerConfig c, WeightView root, bool pooler)
    {
        var embeddings = BertEmbeddings.Load(root.Prefix("embeddings"), c);
        var project = c.IsRoFormer && c.EmbeddingSize != c.HiddenSize
            ? Linear.Load(root.Prefix("embeddings_project"), c.HiddenSize, c.EmbeddingSize)
            : null;
        var rotary = c.IsRoFormer ? RotaryEmbedding.Load(root.Prefix("encoder"), c) : null;
        var encoder = BertEncoder.Load(root.Prefix("encoder"), c, rotary);
        var head = pooler ? BertPooler.Load(root.Prefix("pooler"), c) : null;
        return new TransformerNetwork(c, embeddings, project, rotary, encoder, head);
    }

    /// <summary>
    /// Prepares the inference-only execution (packs every Linear and drops its unpacked weight); call once before the
    /// first inference forward. The network's <see cref="Parameters"/> cannot be read or trained afterwards.
    /// <paramref name="precision"/> applies to the encoder layers' Linears; the embedding projection and the pooler
    /// (one small product per batch or sequence) stay float32.
    /// </summary>
    public void Pack(WeightPrecision precision = WeightPrecision.Fp32)
    {
        _project?.Pack();
        _encoder.Pack(precision);
        _pooler?.Pack();
    }

    /// <summary>Rejects what the embedding lookups could not index: lengths, token ids and type ids out of range.</summary>
    public void Validate(TokenBatch batch)
    {
        var c = Config;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int length = batch.Length(b);
            if (length == 0)
                throw new ArgumentException($"sequence {b} is empty; every sequence needs at least one token", nameof(batch));
            if (length > c.MaxPositionEmbeddings)
                throw new SemblanceException($"sequence {b} has {length} tokens, more than the model's max_position_embeddings {c.MaxPositionEmbeddings}; truncate to at most {c.MaxPositionEmbeddings}");
        }
        var ids = batch.Ids;
        var types = batch.TypeIds;
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)c.VocabSize)
                throw new SemblanceException($"token id {ids[i]} (token {i} of the batch) is outside the model's vocabulary of {c.VocabSize} (config.json vocab_size); the tokenizer does not match the model");
            if ((uint)types[i] >= (uint)c.TypeVocabSize)
                throw new SemblanceException($"token type id {types[i]} (token {i} of the batch) is outside the model's {c.TypeVocabSize} token types (config.json type_vocab_size)");
        }
    }

    /// <summary>
    /// The inference execution: hidden states into the workspace, the pooler output when requested. With
    /// <paramref name="cached"/>, the batch holds new rows of cached sequences (positions continue, attention reads and
    /// extends the cache).
    /// </summary>
    public void Forward(TokenBatch batch, ForwardRequest request, TransformerWorkspace ws, ComputeContext ctx, CachedRows? cached = null)
    {
        if (_project is null)
        {
            _embeddings.Forward(batch, ws.Embedding, ws.Hidden(0), ctx, cached);
        }
        else
        {
            _embeddings.Forward(batch, ws.Embedding, ws.EmbeddingNorm, ctx, cached);
            _project.Forward(ws.EmbeddingNorm, batch.TokenCount, ws.Hidden(0), ctx);
        }
        _encoder.Forward(batch, ws, ctx, cached);
        if (_pooler is not null && request.Pooler)
            _pooler.Forward(ws.Hidden(Config.NumHiddenLayers), batch, ws, ctx, tanh: !request.LinearPooler);
    }

    /// <summary>The recording execution: the first layer's and the last layer's hidden states.</summary>
    public (Tensor First, Tensor Last) Forward(TapePass pass)
    {
        var x = _embeddings.Forward(pass);
        if (_project is not null) x = _project.Forward(pass.Tape, x);
        return _encoder.Forward(pass, x);
    }

    /// <summary>The pooler on the tape: tanh(dense(h[CLS])), or dense(h[CLS]) when not <paramref name="tanh"/>.</summary>
    public Tensor Pooler(TapePass pass, Tensor last, bool tanh = true) =>
        (_pooler ?? throw new SemblanceException($"pooling '{Pooling.Format(tanh ? PoolingMode.Pooler : PoolingMode.PoolerLinear)}' needs a pooler layer (pooler.dense.weight), which this {Config.ModelType} model does not have"))
        .Forward(pass, last, tanh);
}
