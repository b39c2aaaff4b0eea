// Runs a BERT-family / RoFormer checkpoint as a sentence encoder: tokenize → length-sorted packed batches → forward → pool.
using System.Collections.Concurrent;
using System.Globalization;
using Semblance.Models;
using Semblance.Numerics;
using Semblance.Text;

namespace Semblance.Embeddings;

public sealed class TransformerBackend : IEmbeddingBackend
{
    private readonly ITransformer _model;
    private readonly ITokenizer _tokenizer;
    private readonly PoolingMode _pooling;
    private ForwardRequest _request;
    private readonly int _batchSize;
    private readonly ComputeContext _ctx;
    private readonly ConcurrentBag<IDisposable> _workspaces = [];
    private readonly string _directory;
    private readonly string _tokenizerSource;

    public TransformerBackend(ITransformer model, ITokenizer tokenizer, PoolingMode pooling, int maxLength, bool normalize,
        int batchSize, int threads, string directory, string tokenizerSource)
    {
        _model = model;
        _tokenizer = tokenizer;
        _pooling = pooling;
        _request = Embeddings.Pooling.RequestFor(pooling);
        Embeddings.Pooling.EnsureSupported(pooling, model);
        MaxLength = maxLength;
        NormalizeByDefault = normalize;
        _batchSize = batchSize;
        _ctx = new ComputeContext(threads);
        _directory = directory;
        SimilarityFunction = SentenceTransformersConfig.ReadSimilarityFunction(directory);
        _tokenizerSource = tokenizerSource;
    }

    /// <summary>Opens a Hugging Face model directory (plus sentence-transformers pooling/normalisation if present).</summary>
    public static TransformerBackend Open(ModelDirectory directory, EncoderOptions options)
    {
        var st = directory.SentenceTransformers;
        var config = directory.Transformer ?? TransformerLoader.LoadConfig(directory.Path);
        if (config.Architectures.FirstOrDefault(a => a.EndsWith("ForSequenceClassification", StringComparison.Ordinal)) is { } head)
            throw new ModelFormatException($"{directory.Path}: the model is a cross-encoder ({head}: it scores a pair of texts, it does not embed one); use 'semblance pair-score' or 'rerank' with it, or give a sentence encoder");
        var model = TransformerLoader.Load(directory.Path, config, options.AllowNonFinite, options.Precision ?? directory.Precision);
        try
        {
            var tokenizer = directory.LoadTokenizer();
            PoolingMode pooling = options.Pooling is not null ? Embeddings.Pooling.Parse(options.Pooling)
                : st.DeclaredPooling(model.HiddenSize) ?? PoolingMode.Mean;
            int maxLength = directory.MaxLength(options.MaxLength);
            var source = File.Exists(Path.Combine(directory.Path, "tokenizer.json")) ? "tokenizer.json (WordPiece)" : "vocab.txt (WordPiece)";
            return new TransformerBackend(model, tokenizer, pooling, maxLength, st.Normalize,
                options.BatchSize, options.Threads, directory.Path, source + (tokenizer.DoLowerCase ? ", lower-cased" : ""))
            {
                EntropyScaleTrainLength = options.EntropyScaleTrainLength,
            };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public ITokenizer Tokenizer => _tokenizer;

    /// <summary>The entropy-invariant attention scale's training length (0 = off); see <see cref="EncoderOptions.EntropyScaleTrainLength"/>.</summary>
    public int EntropyScaleTrainLength
    {
        get => _request.EntropyTrainLength;
        init
        {
            if (value < 0) throw new SemblanceException($"the entropy-invariant attention scale needs a positive training length, got {value}");
            _request = _request with { EntropyTrainLength = value };
        }
    }

    /// <summary>
    /// The last hidden state of each text, unpooled: one [tokens][HiddenSize] array per text, [CLS] … [SEP] truncated to
    /// <see cref="MaxLength"/> (text-embeddings-inference's /embed_all). One sequence per forward pass on the calling
    /// thread, so it may run beside <see cref="Embed"/>.
    /// </summary>
    public float[][][] EmbedTokens(IReadOnlyList<string> texts, CancellationToken cancellationToken = default)
    {
        var result = new float[texts.Count][][];
        if (!_workspaces.TryTake(out var workspace)) workspace = _model.CreateWorkspace();
        try
        {
            for (int i = 0; i < texts.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var encoded = _tokenizer.Encode(texts[i], MaxLength);
                var output = _model.Forward(TokenBatch.FromSequences([encoded.Ids], [encoded.TypeIds]), ForwardRequest.LastOnly, workspace, ComputeContext.Single);
                int d = output.HiddenSize;
                var hidden = output.LastHiddenState;
                result[i] = new float[encoded.Length][];
                for (int t = 0; t < encoded.Length; t++) result[i][t] = hidden.Slice(t * d, d).ToArray();
            }
        }
        finally
        {
            _workspaces.Add(workspace);
        }
        return result;
    }

    public string ModelType => _model.ModelType;

    public int Dimension => _model.HiddenSize;

    public string Pooling => Embeddings.Pooling.Format(_pooling);

    public bool NormalizeByDefault { get; }

    public SimilarityFunction SimilarityFunction { get; }

    public int MaxLength { get; }

    public long Embed(IReadOnlyList<string> texts, Span<float> output, CancellationToken cancellationToken = default)
    {
        IDisposable? workspace = null;
        try
        {
            return LengthSortedBatches.Embed(texts, output, Dimension, _batchSize, _ctx, text => _tokenizer.Encode(text, MaxLength), (batch, pooled) =>
            {
                if (workspace is null && !_workspaces.TryTake(out workspace)) workspace = _model.CreateWorkspace();
                Embeddings.Pooling.Pool(_model.Forward(batch, _request, workspace, _ctx), batch, _pooling, pooled);
            }, cancellationToken);
        }
        finally
        {
            if (workspace is not null) _workspaces.Add(workspace);
        }
    }

    public IReadOnlyList<KeyValuePair<string, string>> Describe()
    {
        var inv = CultureInfo.InvariantCulture;
        var config = TransformerLoader.LoadConfig(_directory);
        return
        [
            new("directory", Path.GetFullPath(_directory)),
            new("model_type", _model.ModelType),
            new("architectures", config.Architectures.Count > 0 ? string.Join(",", config.Architectures) : "(not stated)"),
            new("layers", _model.NumLayers.ToString(inv)),
            new("hidden_size", _model.HiddenSize.ToString(inv)),
            new("attention_heads", config.NumAttentionHeads.ToString(inv)),
            new("intermediate_size", config.IntermediateSize.ToString(inv)),
            new("hidden_act", config.HiddenAct),
            new("max_position_embeddings", _model.MaxPositions.ToString(inv)),
            new("vocab_size", config.VocabSize.ToString(inv)),
            new("has_pooler", _model.HasPooler ? "yes" : "no"),
            new("parameters", _model.ParameterCount.ToString("N0", inv)),
            new("precision", _model is TransformerModel { Precision: var precision } ? precision.Name() : WeightPrecision.Fp32.Name()),
            new("tokenizer", _tokenizerSource),
            new("max_length", MaxLength.ToString(inv)),
        ];
    }

    public void Dispose()
    {
        while (_workspaces.TryTake(out var w)) w.Dispose();
        _model.Dispose();
    }
}
