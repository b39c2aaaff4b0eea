// Runs a semblance-gru checkpoint (what `semblance train --init gru.json` writes) as a sentence encoder.
using System.Collections.Concurrent;
using System.Globalization;
using Semblance.Models;
using Semblance.Numerics;
using Semblance.Text;

namespace Semblance.Embeddings;

public sealed class GruBackend : IEmbeddingBackend
{
    private readonly GruModel _model;
    private readonly BertTokenizer _tokenizer;
    private readonly int _batchSize;
    private readonly ComputeContext _ctx;
    private readonly ConcurrentBag<GruModel.Workspace> _workspaces = [];
    private readonly string _directory;

    private GruBackend(GruModel model, BertTokenizer tokenizer, int maxLength, bool normalize, int batchSize, int threads, string directory)
    {
        _model = model;
        _tokenizer = tokenizer;
        MaxLength = maxLength;
        NormalizeByDefault = normalize;
        _batchSize = batchSize;
        _ctx = new ComputeContext(threads);
        _directory = directory;
        SimilarityFunction = SentenceTransformersConfig.ReadSimilarityFunction(directory);
    }

    /// <summary>Opens a directory holding config.json (model_type semblance-gru), model.safetensors and vocab.txt.</summary>
    public static GruBackend Open(ModelDirectory model, EncoderOptions options)
    {
        var directory = model.Path;
        var gru = GruModel.Load(directory, options.AllowNonFinite);
        if (options.Pooling is not null && options.Pooling != PoolingName(gru.Config)
            && (gru.Config.Pooling != GruPooling.Mean || Embeddings.Pooling.Parse(options.Pooling) is not (PoolingMode.Mean or PoolingMode.LastAvg)))
            throw new SemblanceException($"--pooling {options.Pooling}: a {GruConfig.ModelTypeName} model pools as its config.json's \"pooling\" says ({PoolingName(gru.Config)})");
        var tokenizer = model.LoadTokenizer();
        if (tokenizer.VocabSize > gru.Config.VocabSize)
            throw new ModelFormatException($"{Path.Combine(directory, "vocab.txt")}: {tokenizer.VocabSize} tokens, more than vocab_size {gru.Config.VocabSize} in config.json");
        int maxLength = model.MaxLength(options.MaxLength);
        return new GruBackend(gru, tokenizer, maxLength, model.SentenceTransformers.Normalize, options.BatchSize, options.Threads, directory);
    }

    /// <summary>The WordPiece tokenizer the model reads (vocab.txt).</summary>
    public Text.ITokenizer Tokenizer => _tokenizer;

    public string ModelType => GruConfig.ModelTypeName;

    public int Dimension => _model.Dimension;

    /// <summary>"mean" or "last", as the model's config.json says; an index records it and reopens the model with it.</summary>
    public string Pooling => PoolingName(_model.Config);

    private static string PoolingName(GruConfig config) => config.Pooling == GruPooling.Last ? "last" : "mean";

    public bool NormalizeByDefault { get; }

    public SimilarityFunction SimilarityFunction { get; }

    public int MaxLength { get; }

    public long Embed(IReadOnlyList<string> texts, Span<float> output, CancellationToken cancellationToken = default)
    {
        GruModel.Workspace? workspace = null;
        try
        {
            return LengthSortedBatches.Embed(texts, output, Dimension, _batchSize, _ctx, text => _tokenizer.Encode(text, MaxLength), (batch, pooled) =>
            {
                if (workspace is null && !_workspaces.TryTake(out workspace)) workspace = _model.CreateWorkspace();
                _model.Encode(batch, pooled, workspace, _ctx);
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
        var c = _model.Config;
        return
        [
            new("directory", Path.GetFullPath(_directory)),
            new("model_type", GruConfig.ModelTypeName),
            new("architecture", "embedding → bidirectional GRU (1 layer) → mean pooling"),
            new("vocab_size", c.VocabSize.ToString(inv)),
            new("embedding_size", c.EmbeddingSize.ToString(inv)),
            new("hidden_size", $"{c.HiddenSize.ToString(inv)} per direction"),
            new("parameters", _model.ParameterCount.ToString("N0", inv)),
            new("tokenizer", "vocab.txt (WordPiece)" + (_tokenizer.DoLowerCase ? ", lower-cased" : "")),
            new("max_length", MaxLength.ToString(inv)),
        ];
    }

    public void Dispose() => _ctx.Dispose();
}
