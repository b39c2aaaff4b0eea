// The inference execution of TransformerNetwork: packed weights, fused epilogues, no tape, per-caller workspaces.
using Semblance.Numerics;

namespace Semblance.Models;

/// <summary>
/// Hugging Face <c>BertModel</c> (also ERNIE checkpoints without task-type embeddings, which are the same network) and
/// <c>RoFormerModel</c> for inference. <c>bert.</c>/<c>roformer.</c>-prefixed task-head checkpoints load too, and a
/// checkpoint without <c>pooler.*</c> (BertForMaskedLM, ...) loads as a model without pooler. Immutable after load,
/// so one instance serves concurrent callers, each with its own workspace.
/// </summary>
public sealed class TransformerModel : ITransformer
{
    private readonly ModelWeights _weights;
    private readonly TransformerNetwork _network;
    private bool _disposed;

    private TransformerModel(ModelWeights weights, TransformerNetwork network, WeightPrecision precision)
    {
        _weights = weights;
        _network = network;
        ParameterCount = weights.UsedElementCount;
        Precision = precision;
    }

    /// <summary>Builds the model from loaded weights; on success the model owns (and disposes) them.</summary>
    /// <param name="precision">How the encoder layers' Linear weights are held (int8: quantised once, here).</param>
    internal static TransformerModel Load(TransformerConfig config, ModelWeights weights, WeightPrecision precision = WeightPrecision.Fp32)
    {
        var root = TransformerNetwork.Root(config, weights);
        root.Prefix("encoder").RequireLayers(config.NumHiddenLayers, "attention.self.query.weight");
        var network = TransformerNetwork.Load(config, root, TransformerNetwork.HasPoolerWeights(config, root));
        network.Pack(precision);
        return new TransformerModel(weights, network, precision);
    }

    /// <summary>The precision of the encoder layers' Linear weights.</summary>
    public WeightPrecision Precision { get; }

    public TransformerConfig Config => _network.Config;

    /// <summary>The checkpoint's root view, where task heads (<c>classifier.*</c>, <c>cls.predictions.*</c>) are loaded from.</summary>
    internal WeightView Checkpoint => _weights.Root;

    /// <summary>The checkpoint's weights (task heads resolve tied tensors through them).</summary>
    internal ModelWeights Weights => _weights;

    public string ModelType => Config.ModelType;

    public int HiddenSize => Config.HiddenSize;

    public int NumLayers => Config.NumHiddenLayers;

    public int MaxPositions => Config.MaxPositionEmbeddings;

    public bool HasPooler => _network.HasPooler;

    /// <summary>Elements of every checkpoint tensor the model uses (including RoFormer's stored sinusoidal table).</summary>
    public long ParameterCount { get; }

    public IDisposable CreateWorkspace() => new TransformerWorkspace();

    public ITransformerOutput Forward(TokenBatch batch, ForwardRequest request, IDisposable workspace, ComputeContext ctx)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (workspace is not TransformerWorkspace ws)
            throw new ArgumentException("the workspace must come from CreateWorkspace()", nameof(workspace));
        _network.Validate(batch);
        ws.Prepare(Config, batch, request, HasPooler);
        if (batch.TokenCount == 0) return ws.Output;
        _network.Forward(batch, request, ws, ctx);
        return ws.Output;
    }

    /// <summary>
    /// An empty key/value cache for <paramref name="slots"/> sequences of up to <paramref name="capacity"/> rows (at most
    /// the model's positions), for <see cref="ForwardCached"/>.
    /// </summary>
    public KeyValueCache CreateCache(int slots, int capacity) =>
        new(NumLayers, slots, Math.Min(capacity, MaxPositions), HiddenSize);

    /// <summary>
    /// Incremental decoding: sequence b of <paramref name="batch"/> is appended to cache slot <paramref name="slots"/>[b]
    /// and its rows attend, under the UniLM rule (c = cumsum(types), key j visible to query i iff c[j] ≤ c[i]), to the
    /// slot's cached rows and to themselves; positions continue after the cached rows. The first chunk of a slot is
    /// typically the whole source (type 0), each later chunk one target token (type 1). The hidden states of the new
    /// rows come back as from <see cref="Forward(TokenBatch, ForwardRequest, IDisposable, ComputeContext)"/>.
    /// </summary>
    public ITransformerOutput ForwardCached(TokenBatch batch, IDisposable workspace, ComputeContext ctx, KeyValueCache cache, int[] slots)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(slots);
        if (workspace is not TransformerWorkspace ws)
            throw new ArgumentException("the workspace must come from CreateWorkspace()", nameof(workspace));
        if (cache.Layers != NumLayers || cache.Width != HiddenSize)
            throw new ArgumentException("the cache was made by another model's CreateCache", nameof(cache));
        _network.Validate(batch);
        cache.Stage(batch, slots);
        ws.Prepare(Config, batch, ForwardRequest.LastOnly, HasPooler);
        if (batch.TokenCount > 0) _network.Forward(batch, ForwardRequest.LastOnly, ws, ctx, new CachedRows(cache, slots));
        cache.Commit();
        return ws.Output;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _weights.Dispose();
        GC.SuppressFinalize(this);
    }
}
