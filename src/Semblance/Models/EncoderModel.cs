// The forward pass every BERT-family encoder shares: embeddings → N post-LN layers → optional pooler.
using Semblance.Numerics;

namespace Semblance.Models;

/// <summary>
/// Base of <see cref="BertModel"/> and <see cref="RoFormerModel"/>; they differ only in their embeddings and in
/// whether attention rotates queries and keys. Immutable after load, so one instance serves concurrent callers,
/// each with its own workspace.
/// </summary>
public abstract class EncoderModel : ITransformer
{
    private readonly ModelWeights _weights;
    private readonly BertEncoder _encoder;
    private readonly BertPooler? _pooler;
    private bool _disposed;

    private protected EncoderModel(TransformerConfig config, ModelWeights weights, BertEncoder encoder, BertPooler? pooler)
    {
        Config = config;
        _weights = weights;
        _encoder = encoder;
        _pooler = pooler;
        ParameterCount = weights.UsedElementCount;
    }

    public TransformerConfig Config { get; }

    public string ModelType => Config.ModelType;

    public int HiddenSize => Config.HiddenSize;

    public int NumLayers => Config.NumHiddenLayers;

    public int MaxPositions => Config.MaxPositionEmbeddings;

    public bool HasPooler => _pooler is not null;

    /// <summary>Elements of every checkpoint tensor the model uses (including RoFormer's stored sinusoidal table).</summary>
    public long ParameterCount { get; }

    public IDisposable CreateWorkspace() => new TransformerWorkspace();

    public ITransformerOutput Forward(TokenBatch batch, ForwardRequest request, IDisposable workspace, ComputeContext ctx)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (workspace is not TransformerWorkspace ws)
            throw new ArgumentException("the workspace must come from CreateWorkspace()", nameof(workspace));
        Validate(batch);

        ws.Prepare(Config, batch, request, HasPooler);
        if (batch.TokenCount == 0) return ws.Output;

        Embed(batch, ws, ws.Hidden(0), ctx);
        _encoder.Forward(batch, ws, ctx);
        if (_pooler is not null && request.Pooler)
            _pooler.Forward(ws.Hidden(NumLayers), batch, ws, ctx);
        return ws.Output;
    }

    /// <summary>Writes the embedding output (layer 0, [TokenCount, HiddenSize]) for <paramref name="batch"/>.</summary>
    private protected abstract void Embed(TokenBatch batch, TransformerWorkspace ws, Span<float> output, ComputeContext ctx);

    /// <summary>Rejects what the embedding lookups could not index: lengths, token ids and type ids out of range.</summary>
    private void Validate(TokenBatch batch)
    {
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int length = batch.Length(b);
            if (length == 0)
                throw new ArgumentException($"sequence {b} is empty; every sequence needs at least one token", nameof(batch));
            if (length > MaxPositions)
                throw new SemblanceException($"sequence {b} has {length} tokens, more than the model's max_position_embeddings {MaxPositions}; truncate to at most {MaxPositions}");
        }
        var ids = batch.Ids;
        var types = batch.TypeIds;
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)Config.VocabSize)
                throw new SemblanceException($"token id {ids[i]} (token {i} of the batch) is outside the model's vocabulary of {Config.VocabSize} (config.json vocab_size); the tokenizer does not match the model");
            if ((uint)types[i] >= (uint)Config.TypeVocabSize)
                throw new SemblanceException($"token type id {types[i]} (token {i} of the batch) is outside the model's {Config.TypeVocabSize} token types (config.json type_vocab_size)");
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _weights.Dispose();
        GC.SuppressFinalize(this);
    }
}
