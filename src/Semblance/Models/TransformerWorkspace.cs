// Activation buffers of a forward pass, reused across layers and calls; grown only when a batch needs more.
namespace Semblance.Models;

/// <summary>
/// Per-caller scratch memory for <see cref="TransformerModel.Forward"/>. Hidden states live in a few slots: every layer
/// gets its own slot only when all hidden states are requested; otherwise layers alternate between two slots,
/// with a third one holding layer 1 when it must survive (first-last-avg pooling).
/// </summary>
internal sealed class TransformerWorkspace : IDisposable
{
    private float[][] _slots = [];
    private int[] _layerSlot = [];
    private bool[] _kept = [];

    public TransformerWorkspace() => Output = new TransformerOutput(this);

    public float[] Embedding = [];
    public float[] EmbeddingNorm = [];
    public float[] Qkv = [];
    public float[] Context = [];
    public float[] Attention = [];
    public float[] Intermediate = [];
    public float[] Sum = [];
    public float[] ClsRows = [];
    public float[] Pooler = [];

    /// <summary>The current pass's <see cref="ForwardRequest.EntropyTrainLength"/> (0 = off).</summary>
    public int EntropyTrainLength { get; private set; }

    public TransformerOutput Output { get; }

    public int Tokens { get; private set; }

    public int HiddenSize { get; private set; }

    public int Layers { get; private set; }

    public bool Disposed { get; private set; }

    /// <summary>Sizes every buffer for <paramref name="batch"/> and decides which hidden states survive the pass.</summary>
    public void Prepare(TransformerConfig config, TokenBatch batch, ForwardRequest request, bool hasPooler)
    {
        bool computePooler = hasPooler && request.Pooler;
        ObjectDisposedException.ThrowIf(Disposed, this);
        EntropyTrainLength = request.EntropyTrainLength;
        int t = batch.TokenCount, h = config.HiddenSize, layers = config.NumHiddenLayers;
        Tokens = t;
        HiddenSize = h;
        Layers = layers;

        bool keepFirst = request.FirstLayer && layers > 1;
        int slotCount = request.AllHiddenStates ? layers + 1 : keepFirst ? 3 : 2;
        if (_slots.Length < slotCount) Array.Resize(ref _slots, slotCount);
        for (int i = 0; i < slotCount; i++) Ensure(ref _slots[i], t * h);

        _layerSlot = _layerSlot.Length == layers + 1 ? _layerSlot : new int[layers + 1];
        _kept = _kept.Length == layers + 1 ? _kept : new bool[layers + 1];
        for (int l = 0; l <= layers; l++)
        {
            if (request.AllHiddenStates) _layerSlot[l] = l;
            else if (l == 0) _layerSlot[l] = 0;
            else if (l == 1 && keepFirst) _layerSlot[l] = 2;
            else _layerSlot[l] = _layerSlot[l - 1] == 0 ? 1 : 0;
            _kept[l] = request.AllHiddenStates || l == layers || (l == 1 && request.FirstLayer);
        }

        int e = config.EmbeddingSize;
        Ensure(ref Embedding, t * e);
        if (e != h) Ensure(ref EmbeddingNorm, t * e);
        Ensure(ref Qkv, t * 3 * h);
        Ensure(ref Context, t * h);
        Ensure(ref Attention, t * h);
        Ensure(ref Intermediate, t * config.IntermediateSize);
        Ensure(ref Sum, t * h);
        if (computePooler)
        {
            Ensure(ref ClsRows, batch.BatchSize * h);
            Ensure(ref Pooler, batch.BatchSize * h);
        }
        Output.Reset(batch.BatchSize, hasPooler, computePooler);
    }

    private static void Ensure(ref float[] buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = new float[length];
    }

    /// <summary>The buffer that layer <paramref name="layer"/> (0 = embeddings) writes, [Tokens, HiddenSize].</summary>
    public Span<float> Hidden(int layer) => _slots[_layerSlot[layer]].AsSpan(0, Tokens * HiddenSize);

    public bool IsKept(int layer) => layer >= 0 && layer <= Layers && _kept[layer];

    public void Dispose()
    {
        Disposed = true;
        _slots = [];
        Embedding = EmbeddingNorm = Qkv = Context = Attention = Intermediate = Sum = ClsRows = Pooler = [];
    }
}

/// <summary>The views a forward pass hands out; one instance per workspace, refreshed by each pass.</summary>
internal sealed class TransformerOutput(TransformerWorkspace workspace) : ITransformerOutput
{
    private int _batchSize;
    private bool _hasPooler;
    private bool _poolerComputed;

    public int HiddenSize => workspace.HiddenSize;

    internal void Reset(int batchSize, bool hasPooler, bool poolerComputed)
    {
        _batchSize = batchSize;
        _hasPooler = hasPooler;
        _poolerComputed = poolerComputed;
    }

    public ReadOnlySpan<float> HiddenState(int layer)
    {
        ObjectDisposedException.ThrowIf(workspace.Disposed, workspace);
        if (layer < 0 || layer > workspace.Layers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"layers run from 0 (embeddings) to {workspace.Layers}");
        if (!workspace.IsKept(layer))
            throw new InvalidOperationException($"hidden state {layer} was not kept; request it with ForwardRequest(AllHiddenStates: true) or FirstLayer for layer 1");
        return workspace.Hidden(layer);
    }

    public ReadOnlySpan<float> LastHiddenState => HiddenState(workspace.Layers);

    public ReadOnlySpan<float> PoolerOutput
    {
        get
        {
            ObjectDisposedException.ThrowIf(workspace.Disposed, workspace);
            if (!_hasPooler) return [];
            if (!_poolerComputed)
                throw new InvalidOperationException("the pooler output was not requested; use ForwardRequest(Pooler: true)");
            return workspace.Pooler.AsSpan(0, _batchSize * workspace.HiddenSize);
        }
    }
}
