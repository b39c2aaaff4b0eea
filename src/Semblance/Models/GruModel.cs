// Inference for the GRU sentence encoder: embedding → bidirectional GRU → mean pooling, batched, without a tape.
using System.Numerics.Tensors;
using Semblance.Numerics;

namespace Semblance.Models;

/// <summary>
/// e_t = E[id_t]; h→_t = GRU→(e_t, h→_{t−1}); h←_t = GRU←(e_t, h←_{t+1}); sentence = [mean_t h→_t ; mean_t h←_t].
/// The input projections W_ih·e_t + b_ih of every token and both directions are one GEMM against the two W_ih
/// stacked ([6H, E], packed at load). The recurrence then runs one time step for all sentences of the batch at
/// once: sentences sorted by decreasing length, so the ones still running at step t are a prefix and
/// W_hh·h + b_hh is one [active, H] × [H, 3H] GEMM per step. GEMM rows and gate updates are independent per row,
/// so a sentence's vector does not depend on the batch it is encoded in. The two directions run in parallel.
/// </summary>
public sealed class GruModel
{
    private readonly float[] _embedding;
    private readonly PackedWeight _inputWeights;
    private readonly float[] _inputBias;
    private readonly PackedWeight[] _recurrentWeights;
    private readonly float[][] _recurrentBias;

    private GruModel(GruConfig config, float[] embedding, PackedWeight inputWeights, float[] inputBias, PackedWeight[] recurrentWeights, float[][] recurrentBias)
    {
        Config = config;
        _embedding = embedding;
        _inputWeights = inputWeights;
        _inputBias = inputBias;
        _recurrentWeights = recurrentWeights;
        _recurrentBias = recurrentBias;
    }

    public GruConfig Config { get; }

    /// <summary>Sentence vector size: 2 × hidden_size.</summary>
    public int Dimension => Config.Dimension;

    public long ParameterCount
    {
        get
        {
            long v = Config.VocabSize, e = Config.EmbeddingSize, h = Config.HiddenSize;
            return v * e + 2 * (3 * h * e + 3 * h * h + 6 * h);
        }
    }

    /// <summary>Reads config.json and model.safetensors (PyTorch names: <c>embeddings.weight</c>, <c>gru.weight_ih_l0[_reverse]</c>, ...).</summary>
    public static GruModel Load(string modelDir, bool allowNonFinite = false)
    {
        if (!Directory.Exists(modelDir)) throw new ModelFormatException($"{modelDir}: model directory not found");
        var config = GruConfig.Load(Path.Combine(modelDir, TransformerLoader.ConfigFileName));
        using var weights = ModelWeights.Open(modelDir, allowNonFinite);
        var root = weights.Root;
        int v = config.VocabSize, e = config.EmbeddingSize, h = config.HiddenSize, g3 = 3 * h;
        float[] Read(string name, params int[] shape) => root.Get(name, shape).Span.ToArray();

        var embedding = Read("embeddings.weight", v, e);
        var inputWeights = new float[2 * g3 * e];
        var inputBias = new float[2 * g3];
        var recurrentWeights = new PackedWeight[2];
        var recurrentBias = new float[2][];
        string[] suffixes = ["", "_reverse"];
        for (int d = 0; d < 2; d++)
        {
            Read("gru.weight_ih_l0" + suffixes[d], g3, e).CopyTo(inputWeights, d * g3 * e);
            Read("gru.bias_ih_l0" + suffixes[d], g3).CopyTo(inputBias, d * g3);
            recurrentWeights[d] = PackedWeight.Pack(Read("gru.weight_hh_l0" + suffixes[d], g3, h), g3, h);
            recurrentBias[d] = Read("gru.bias_hh_l0" + suffixes[d], g3);
        }
        return new GruModel(config, embedding, PackedWeight.Pack(inputWeights, 2 * g3, e), inputBias, recurrentWeights, recurrentBias);
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
            Grow(ref InputGates, tokens * 2 * g3);
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

    /// <summary>Writes one [2H] vector per sequence of <paramref name="batch"/> into <paramref name="pooled"/> ([BatchSize, 2H]).</summary>
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
            _embedding.AsSpan(id * e, e).CopyTo(workspace.Embedded.AsSpan(t * e, e));
        }
        Gemm.Linear(workspace.Embedded, tokens, _inputWeights, _inputBias, workspace.InputGates, ctx);

        Recurrent.LongestFirst(batch.Offsets, workspace.Order);
        ctx.For(2, d => RunDirection(d, batch, workspace, ctx));
        workspace.Pooled.AsSpan(0, n * dim).CopyTo(pooled);
    }

    private void RunDirection(int d, TokenBatch batch, Workspace workspace, ComputeContext ctx)
    {
        int n = batch.BatchSize, h = Config.HiddenSize, g3 = 3 * h, dim = Dimension;
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
                gates.AsSpan(row * 2 * g3 + d * g3, g3).CopyTo(buffers.StepInput.AsSpan(i * g3, g3));
            }
            Gemm.Linear(state[..(active * h)], active, _recurrentWeights[d], _recurrentBias[d], buffers.StepRecurrent, ctx);
            Recurrent.GruUpdate(buffers.StepInput, buffers.StepRecurrent, state, active, h, buffers.Scratch);
            TensorPrimitives.Add(sum[..(active * h)], state[..(active * h)], sum[..(active * h)]);
        }
        for (int i = 0; i < n; i++)
        {
            int s = order[i];
            TensorPrimitives.Divide(sum.Slice(i * h, h), batch.Length(s), workspace.Pooled.AsSpan(s * dim + d * h, h));
        }
    }
}
