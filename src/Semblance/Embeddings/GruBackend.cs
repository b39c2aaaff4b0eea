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
    }

    /// <summary>Opens a directory holding config.json (model_type semblance-gru), model.safetensors and vocab.txt.</summary>
    public static GruBackend Open(string directory, EncoderOptions options)
    {
        if (options.Pooling is not null && Embeddings.Pooling.Parse(options.Pooling) is not (PoolingMode.Mean or PoolingMode.LastAvg))
            throw new SemblanceException($"--pooling {options.Pooling}: a {GruConfig.ModelTypeName} model pools by mean only (its config.json says \"pooling\": \"mean\")");
        var model = GruModel.Load(directory);
        var tokenizer = BertTokenizer.Load(directory);
        if (tokenizer.VocabSize > model.Config.VocabSize)
            throw new ModelFormatException($"{Path.Combine(directory, "vocab.txt")}: {tokenizer.VocabSize} tokens, more than vocab_size {model.Config.VocabSize} in config.json");
        int maxLength = options.MaxLength > 0 ? options.MaxLength : model.Config.MaxLength;
        if (maxLength < 2) throw new SemblanceException($"--max-length {maxLength} leaves no room for [CLS] and [SEP]");
        bool normalize = SentenceTransformersConfig.Read(directory).Normalize;
        return new GruBackend(model, tokenizer, maxLength, normalize, options.BatchSize, options.Threads, directory);
    }

    public string ModelType => GruConfig.ModelTypeName;

    public int Dimension => _model.Dimension;

    public string Pooling => "mean";

    public bool NormalizeByDefault { get; }

    public int MaxLength { get; }

    public long Embed(IReadOnlyList<string> texts, Span<float> output, CancellationToken cancellationToken = default)
    {
        int n = texts.Count, dim = Dimension;
        if (output.Length != (long)n * dim) throw new ArgumentException($"output has {output.Length} floats, expected {n}x{dim}");
        if (n == 0) return 0;

        var encoded = new int[n][];
        int slices = Math.Min(_ctx.Threads * 4, n);
        _ctx.For(slices, s =>
        {
            for (int i = s; i < n; i += slices) encoded[i] = _tokenizer.Encode(texts[i], MaxLength).Ids;
        });

        // Similar lengths per batch keep the recurrence's active prefix full until the last steps.
        var order = new int[n];
        var keys = new int[n];
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
            keys[i] = encoded[i].Length;
        }
        Array.Sort(keys, order);

        if (!_workspaces.TryTake(out var workspace)) workspace = _model.CreateWorkspace();
        long tokens = 0;
        try
        {
            var pooled = new float[_batchSize * dim];
            var ids = new List<int[]>(_batchSize);
            for (int start = 0; start < n; start += _batchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int count = Math.Min(_batchSize, n - start);
                ids.Clear();
                for (int j = 0; j < count; j++) ids.Add(encoded[order[start + j]]);
                var batch = TokenBatch.FromSequences(ids);
                _model.Encode(batch, pooled, workspace, _ctx);
                for (int j = 0; j < count; j++) pooled.AsSpan(j * dim, dim).CopyTo(output.Slice(order[start + j] * dim, dim));
                tokens += batch.TokenCount;
            }
        }
        finally
        {
            _workspaces.Add(workspace);
        }
        return tokens;
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
