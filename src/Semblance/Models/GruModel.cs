// The GRU sentence encoder (embedding → GRU, one or both directions → mean or last-state pooling), defined once: GruNetwork owns the
// parameters by their PyTorch names; GruModel is its inference execution (batched, no tape), TrainableGru its tape one.
using System.Numerics.Tensors;
using Tensor = Semblance.Training.Autodiff.Tensor;
using Semblance.Embeddings;
using Semblance.Numerics;
using Semblance.Training.Autodiff;

namespace Semblance.Models;

/// <summary>One direction of <c>nn.GRU</c>'s layer 0: weight_ih_l0[_reverse] [3H, E], weight_hh_l0[_reverse] [3H, H] and their biases.</summary>
internal sealed record GruDirection(bool Reverse, ModelParameter WeightIh, ModelParameter WeightHh, ModelParameter BiasIh, ModelParameter BiasHh)
{
    public IEnumerable<ModelParameter> Parameters => [WeightIh, WeightHh, BiasIh, BiasHh];

    public static GruDirection Load(WeightView w, GruConfig c, bool reverse)
    {
        string suffix = reverse ? "_reverse" : "";
        int h = c.HiddenSize, g3 = 3 * h;
        return new GruDirection(reverse,
            ModelParameter.Load(w, "gru.weight_ih_l0" + suffix, g3, c.EmbeddingSize),
            ModelParameter.Load(w, "gru.weight_hh_l0" + suffix, g3, h),
            ModelParameter.Load(w, "gru.bias_ih_l0" + suffix, g3),
            ModelParameter.Load(w, "gru.bias_hh_l0" + suffix, g3));
    }

    /// <summary>The recording execution: [tokens, H] hidden states of this direction.</summary>
    public Tensor Forward(Tape tape, Tensor embedded, int[] offsets) =>
        tape.Gru(embedded, offsets, WeightIh.Trainable, WeightHh.Trainable, BiasIh.Trainable, BiasHh.Trainable, Reverse);
}

/// <summary>
/// e_t = E[id_t]; h→_t = GRU→(e_t, h→_{t−1}); h←_t = GRU←(e_t, h←_{t+1}) (bidirectional only); sentence =
/// mean_t [h→_t ; h←_t] (pooling "mean") or [h→_T ; h←_1] (pooling "last": each direction's final state), H values per
/// direction. Tensor names follow PyTorch (<c>embeddings.weight</c>, <c>gru.weight_ih_l0</c>, <c>gru.weight_ih_l0_reverse</c>, ...)
/// so the weights load into <c>nn.Embedding</c> + <c>nn.GRU(bidirectional=..., batch_first=True)</c>.
/// </summary>
internal sealed class GruNetwork
{
    private GruNetwork(GruConfig config, ModelParameter embedding, GruDirection[] directions)
    {
        Config = config;
        Embedding = embedding;
        Directions = directions;
    }

    public GruConfig Config { get; }

    public ModelParameter Embedding { get; }

    /// <summary>Forward, then reverse (bidirectional only).</summary>
    public GruDirection[] Directions { get; }

    /// <summary>The tensors in <c>state_dict</c> order of <c>nn.Embedding</c> + <c>nn.GRU</c>.</summary>
    public IEnumerable<ModelParameter> Parameters => Directions.SelectMany(d => d.Parameters).Prepend(Embedding);

    public static GruNetwork Load(GruConfig c, WeightView w) => new(c,
        ModelParameter.Load(w, "embeddings.weight", c.VocabSize, c.EmbeddingSize),
        c.Bidirectional ? [GruDirection.Load(w, c, reverse: false), GruDirection.Load(w, c, reverse: true)] : [GruDirection.Load(w, c, reverse: false)]);

    /// <summary>The recording execution: one [directions × H] vector per sequence.</summary>
    public Tensor Encode(Tape tape, TokenBatch batch)
    {
        var e = tape.Embedding(Embedding.Trainable, batch.Ids);
        var states = Directions.Select(d => d.Forward(tape, e, batch.Offsets)).ToArray();
        if (Config.Pooling == GruPooling.Mean)
            return tape.Pool(PoolingMode.Mean, null, states.Length == 1 ? states[0] : tape.ConcatColumns(states), batch.Offsets);
        // The final state of each direction: the forward one at the sentence's last row, the reverse one at its first.
        int n = batch.Offsets.Length - 1;
        var finals = Directions.Select((d, i) => tape.Embedding(states[i],
            Enumerable.Range(0, n).Select(s => d.Reverse ? batch.Offsets[s] : batch.Offsets[s + 1] - 1).ToArray())).ToArray();
        return finals.Length == 1 ? finals[0] : tape.ConcatColumns(finals);
    }
}

/// <summary>
/// The inference execution of <see cref="GruNetwork"/>: sentence = [mean_t h→_t ; mean_t h←_t] or the final states.
/// The input projections W_ih·e_t + b_ih of every token and every direction are one GEMM against the W_ih
/// stacked ([D·3H, E], packed at load). The recurrence then runs one time step for all sentences of the batch at
/// once: sentences sorted by decreasing length, so the ones still running at step t are a prefix and
/// W_hh·h + b_hh is one [active, H] × [H, 3H] GEMM per step. GEMM rows and gate updates are independent per row,
/// so a sentence's vector does not depend on the batch it is encoded in. The two directions run in parallel. A sentence
/// leaves the active prefix after its last step, so its state row then holds its final state.
/// </summary>
public sealed class GruModel
{
    private readonly GruNetwork _network;
    private readonly PackedWeight _inputWeights;
    private readonly float[] _inputBias;
    private readonly PackedWeight[] _recurrentWeights;

    /// <summary>Packs the network for inference: the directions' W_ih stacked into one [D·3H, E], each W_hh on its own.</summary>
    private GruModel(GruNetwork network)
    {
        _network = network;
        int e = Config.EmbeddingSize, g3 = 3 * Config.HiddenSize, directions = Config.Directions;
        var inputWeights = new float[directions * g3 * e];
        _inputBias = new float[directions * g3];
        _recurrentWeights = new PackedWeight[directions];
        for (int d = 0; d < directions; d++)
        {
            var direction = network.Directions[d];
            direction.WeightIh.Span.CopyTo(inputWeights.AsSpan(d * g3 * e));
            direction.BiasIh.Span.CopyTo(_inputBias.AsSpan(d * g3));
            _recurrentWeights[d] = PackedWeight.Pack(direction.WeightHh.Span, g3, Config.HiddenSize);
        }
        _inputWeights = PackedWeight.Pack(inputWeights, directions * g3, e);
    }

    public GruConfig Config => _network.Config;

    /// <summary>Sentence vector size: hidden_size per direction.</summary>
    public int Dimension => Config.Dimension;

    public long ParameterCount => _network.Parameters.Sum(p => (long)p.Span.Length);

    /// <summary>Reads config.json and model.safetensors (PyTorch names: <c>embeddings.weight</c>, <c>gru.weight_ih_l0[_reverse]</c>, ...).</summary>
    public static GruModel Load(string modelDir, bool allowNonFinite = false)
    {
        if (!Directory.Exists(modelDir)) throw new ModelFormatException($"{modelDir}: model directory not found");
        var config = GruConfig.Load(Path.Combine(modelDir, TransformerLoader.ConfigFileName));
        using var weights = ModelWeights.Open(modelDir, allowNonFinite);
        var network = GruNetwork.Load(config, weights.Root);
        // The model is small: own float32 copies, so the checkpoint can be closed now.
        foreach (var p in network.Parameters) p.Own();
        return new GruModel(network);
    }

    /// <summary>Reusable buffers for one caller at a time.</summary>
    public sealed class Workspace
    {
        internal float[] Embedded = [];
        internal float[] InputGates = [];
        internal int[] Order = [];
        internal float[] Pooled = [];
        internal readonly DirectionBuffers[] Directions = [new(), new()];

        internal void Ensure(int tokens, int sequences, GruConfig c)
        {
            int h = c.HiddenSize, g3 = 3 * h;
            Grow(ref Embedded, tokens * c.EmbeddingSize);
            Grow(ref InputGates, tokens * c.Directions * g3);
            if (Order.Length < sequences) Order = new int[sequences];
            Grow(ref Pooled, sequences * c.Dimension);
            foreach (var d in Directions)
            {
                Grow(ref d.State, sequences * h);
                Grow(ref d.Sum, sequences * h);
                Grow(ref d.StepInput, sequences * g3);
                Grow(ref d.StepRecurrent, sequences * g3);
                Grow(ref d.Scratch, g3);
            }
        }

        private static void Grow(ref float[] buffer, int length)
        {
            if (buffer.Length < length) buffer = new float[length];
        }
    }

    internal sealed class DirectionBuffers
    {
        public float[] State = [];
        public float[] Sum = [];
        public float[] StepInput = [];
        public float[] StepRecurrent = [];
        public float[] Scratch = [];
    }

    public Workspace CreateWorkspace() => new();

    /// <summary>Writes one [D·H] vector per sequence of <paramref name="batch"/> into <paramref name="pooled"/> ([BatchSize, D·H]).</summary>
    public void Encode(TokenBatch batch, Span<float> pooled, Workspace workspace, ComputeContext ctx)
    {
        int n = batch.BatchSize, e = Config.EmbeddingSize, dim = Dimension;
        if (pooled.Length < n * dim) throw new ArgumentException($"pooled has {pooled.Length} floats, expected {n}x{dim}", nameof(pooled));
        if (n == 0) return;
        for (int s = 0; s < n; s++)
            if (batch.Length(s) == 0) throw new ArgumentException($"sequence {s} is empty", nameof(batch));
        int tokens = batch.TokenCount;
        workspace.Ensure(tokens, n, Config);
        var ids = batch.Ids;
        for (int t = 0; t < tokens; t++)
        {
            int id = ids[t];
            if ((uint)id >= (uint)Config.VocabSize) throw new ArgumentException($"token id {id} is outside vocab_size {Config.VocabSize}", nameof(batch));
            _network.Embedding.Row(id).CopyTo(workspace.Embedded.AsSpan(t * e, e));
        }
        Gemm.Linear(workspace.Embedded, tokens, _inputWeights, _inputBias, workspace.InputGates, ctx);

        Recurrent.LongestFirst(batch.Offsets, workspace.Order);
        ctx.For(Config.Directions, d => RunDirection(d, batch, workspace, ctx));
        workspace.Pooled.AsSpan(0, n * dim).CopyTo(pooled);
    }

    private void RunDirection(int d, TokenBatch batch, Workspace workspace, ComputeContext ctx)
    {
        int n = batch.BatchSize, h = Config.HiddenSize, g3 = 3 * h, dim = Dimension, stride = Config.Directions * g3;
        var buffers = workspace.Directions[d];
        var state = buffers.State.AsSpan(0, n * h);
        var sum = buffers.Sum.AsSpan(0, n * h);
        state.Clear();
        sum.Clear();
        var order = workspace.Order;
        var offsets = batch.Offsets;
        var gates = workspace.InputGates;
        int active = n, steps = batch.Length(order[0]);
        for (int t = 0; t < steps; t++)
        {
            while (batch.Length(order[active - 1]) <= t) active--;
            for (int i = 0; i < active; i++)
            {
                int s = order[i];
                int row = offsets[s] + (d == 0 ? t : batch.Length(s) - 1 - t);
                gates.AsSpan(row * stride + d * g3, g3).CopyTo(buffers.StepInput.AsSpan(i * g3, g3));
            }
            Gemm.Linear(state[..(active * h)], active, _recurrentWeights[d], _network.Directions[d].BiasHh.Span, buffers.StepRecurrent, ctx);
            Recurrent.GruUpdate(buffers.StepInput, buffers.StepRecurrent, state, active, h, buffers.Scratch);
            TensorPrimitives.Add(sum[..(active * h)], state[..(active * h)], sum[..(active * h)]);
        }
        bool last = Config.Pooling == GruPooling.Last;
        for (int i = 0; i < n; i++)
        {
            int s = order[i];
            var target = workspace.Pooled.AsSpan(s * dim + d * h, h);
            if (last) state.Slice(i * h, h).CopyTo(target);
            else TensorPrimitives.Divide(sum.Slice(i * h, h), batch.Length(s), target);
        }
    }
}
