// BERT and RoFormer as trainable float32 parameters on the autodiff tape: same weight names and math as Models/.
using System.Text.Json;
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>The hidden states a training forward pass keeps: after the first layer and after the last.</summary>
public sealed record EncoderOutput(Tensor FirstLayer, Tensor Last, int[] Offsets);

/// <summary>
/// Hugging Face <c>BertModel</c> / <c>RoFormerModel</c> (post-LN layers) computed op by op on a <see cref="Tape"/>,
/// so every weight gets a gradient. Parameters carry the checkpoint's tensor names, and <see cref="SaveWeights"/>
/// writes them back under those names, so a trained model loads in the inference engine unchanged. Dropout
/// (hidden_dropout_prob, attention_probs_dropout_prob) is active only when the caller passes per-sequence keys.
/// </summary>
public sealed class TrainableEncoder : ITrainableEncoder
{
    private readonly Dictionary<string, Parameter> _byName;
    private readonly float[]? _rotaryTable;

    private TrainableEncoder(TransformerConfig config, List<Parameter> parameters)
    {
        Config = config;
        Parameters = parameters;
        _byName = parameters.ToDictionary(p => p.Name, StringComparer.Ordinal);
        if (config.IsRoFormer) _rotaryTable = _byName[RotaryName].Data;
    }

    private const string RotaryName = "encoder.embed_positions.weight";

    public TransformerConfig Config { get; }

    /// <summary>Every tensor saved with the model, in checkpoint order (trainable or not).</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    public IEnumerable<Parameter> Trainable => Parameters.Where(p => p.RequiresGrad);

    public bool HasPooler => _byName.ContainsKey("pooler.dense.weight");

    public Parameter this[string name] =>
        _byName.TryGetValue(name, out var p) ? p : throw new KeyNotFoundException($"the model has no parameter '{name}'");

    /// <summary>The checkpoint tensor names and shapes this config implies, in Hugging Face state_dict order.</summary>
    public static List<(string Name, int[] Shape, bool Trainable)> Layout(TransformerConfig c, bool pooler)
    {
        int h = c.HiddenSize, e = c.IsRoFormer ? c.EmbeddingSize : h, inter = c.IntermediateSize;
        var list = new List<(string, int[], bool)>
        {
            ("embeddings.word_embeddings.weight", [c.VocabSize, e], true),
        };
        if (!c.IsRoFormer) list.Add(("embeddings.position_embeddings.weight", [c.MaxPositionEmbeddings, e], true));
        list.Add(("embeddings.token_type_embeddings.weight", [c.TypeVocabSize, e], true));
        list.Add(("embeddings.LayerNorm.weight", [e], true));
        list.Add(("embeddings.LayerNorm.bias", [e], true));
        if (c.IsRoFormer && e != h)
        {
            list.Add(("embeddings_project.weight", [h, e], true));
            list.Add(("embeddings_project.bias", [h], true));
        }
        if (c.IsRoFormer) list.Add((RotaryName, [c.MaxPositionEmbeddings, c.HeadDim], false));
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            string p = $"encoder.layer.{l}.";
            foreach (var name in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                list.Add((p + name + ".weight", [h, h], true));
                list.Add((p + name + ".bias", [h], true));
            }
            list.Add((p + "attention.output.LayerNorm.weight", [h], true));
            list.Add((p + "attention.output.LayerNorm.bias", [h], true));
            list.Add((p + "intermediate.dense.weight", [inter, h], true));
            list.Add((p + "intermediate.dense.bias", [inter], true));
            list.Add((p + "output.dense.weight", [h, inter], true));
            list.Add((p + "output.dense.bias", [h], true));
            list.Add((p + "output.LayerNorm.weight", [h], true));
            list.Add((p + "output.LayerNorm.bias", [h], true));
        }
        if (pooler)
        {
            list.Add(("pooler.dense.weight", [h, h], true));
            list.Add(("pooler.dense.bias", [h], true));
        }
        return list;
    }

    /// <summary>Loads config.json and the safetensors weights of a Hugging Face BERT or RoFormer directory as float32 copies.</summary>
    public static TrainableEncoder Load(string modelDir, bool allowNonFinite = false)
    {
        var config = TransformerLoader.LoadConfig(modelDir);
        using var weights = ModelWeights.Open(modelDir, allowNonFinite);
        var root = config.IsRoFormer
            ? weights.Detect("embeddings.word_embeddings.weight", ["", "roformer."])
            : weights.Detect("embeddings.word_embeddings.weight", new[] { "", "bert.", config.ModelType + "." }.Distinct());
        bool pooler = !config.IsRoFormer && root.Contains("pooler.dense.weight");
        root.Prefix("encoder").RequireLayers(config.NumHiddenLayers, "attention.self.query.weight");
        var parameters = new List<Parameter>();
        foreach (var (name, shape, trainable) in Layout(config, pooler))
        {
            float[] data = name == RotaryName && !root.Contains(name)
                ? RotaryEmbedding.Table(config.MaxPositionEmbeddings, config.HeadDim)
                : root.Get(name, shape).Span.ToArray();
            parameters.Add(new Parameter(name, shape, data, trainable));
        }
        return new TrainableEncoder(config, parameters);
    }

    /// <summary>
    /// Fresh weights as transformers' <c>_init_weights</c>: Linear and embedding weights ~ N(0, initializer_range²),
    /// biases 0, LayerNorm γ = 1 and β = 0, the pad_token_id embedding row 0. Deterministic in <paramref name="seed"/>.
    /// </summary>
    public static TrainableEncoder Initialize(TransformerConfig config, int seed)
    {
        double bytes = config.ParameterCount() * sizeof(float);
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (bytes > available)
            throw new SemblanceException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"the config describes {config.ParameterCount():G4} parameters ({bytes / (1 << 30):F1} GiB), more than the {available / (double)(1 << 30):F1} GiB of memory available; check num_hidden_layers, hidden_size, intermediate_size and vocab_size"));
        var rng = new Random(seed);
        var parameters = new List<Parameter>();
        foreach (var (name, shape, trainable) in Layout(config, pooler: !config.IsRoFormer))
        {
            int length = shape.Aggregate(1, (a, b) => a * b);
            var data = new float[length];
            if (name == RotaryName) data = RotaryEmbedding.Table(config.MaxPositionEmbeddings, config.HeadDim);
            else if (name.EndsWith("LayerNorm.weight", StringComparison.Ordinal)) Array.Fill(data, 1f);
            else if (name.EndsWith(".weight", StringComparison.Ordinal) && !name.Contains("LayerNorm", StringComparison.Ordinal))
            {
                for (int i = 0; i < length; i++) data[i] = (float)(Normal(rng) * config.InitializerRange);
                if (name == "embeddings.word_embeddings.weight" && config.PadTokenId is int pad && pad >= 0 && pad < shape[0])
                    Array.Clear(data, pad * shape[1], shape[1]);
            }
            parameters.Add(new Parameter(name, shape, data, trainable));
        }
        return new TrainableEncoder(config, parameters);
    }

    private static double Normal(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>
    /// The forward pass. <paramref name="dropoutKeys"/> (one per sequence) turns dropout on; the masks of a sequence
    /// depend only on its key, so the same sequence with the same key gives the same result in any batch.
    /// </summary>
    public EncoderOutput Forward(Tape tape, TokenBatch batch, ulong[]? dropoutKeys = null)
    {
        var c = Config;
        if (dropoutKeys is not null && dropoutKeys.Length != batch.BatchSize)
            throw new ArgumentException($"{dropoutKeys.Length} dropout keys for {batch.BatchSize} sequences", nameof(dropoutKeys));
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int length = batch.Length(b);
            if (length == 0) throw new ArgumentException($"sequence {b} is empty", nameof(batch));
            if (length > c.MaxPositionEmbeddings)
                throw new SemblanceException($"sequence {b} has {length} tokens, more than max_position_embeddings {c.MaxPositionEmbeddings}");
        }
        var rowKeys = dropoutKeys is null ? null : RowKeys(batch, dropoutKeys);
        float hiddenDrop = dropoutKeys is null ? 0f : (float)c.HiddenDropoutProb;
        float attentionDrop = dropoutKeys is null ? 0f : (float)c.AttentionProbsDropoutProb;

        var x = tape.Add(tape.Embedding(this["embeddings.word_embeddings.weight"], batch.Ids),
                         tape.Embedding(this["embeddings.token_type_embeddings.weight"], batch.TypeIds));
        if (!c.IsRoFormer)
        {
            var positions = new int[batch.TokenCount];
            for (int b = 0; b < batch.BatchSize; b++)
                for (int p = 0; p < batch.Length(b); p++) positions[batch.Offsets[b] + p] = p;
            x = tape.Add(x, tape.Embedding(this["embeddings.position_embeddings.weight"], positions));
        }
        x = LayerNorm(tape, x, "embeddings.LayerNorm");
        x = tape.Dropout(x, hiddenDrop, rowKeys, site: 0);
        if (_byName.ContainsKey("embeddings_project.weight")) x = Linear(tape, x, "embeddings_project");

        Tensor? first = null;
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            x = Layer(tape, x, l, batch, rowKeys, dropoutKeys, hiddenDrop, attentionDrop);
            first ??= x;
        }
        return new EncoderOutput(first ?? x, x, batch.Offsets);
    }

    private Tensor Layer(Tape tape, Tensor input, int l, TokenBatch batch, ulong[]? rowKeys, ulong[]? sequenceKeys, float hiddenDrop, float attentionDrop)
    {
        var c = Config;
        string p = $"encoder.layer.{l}.";
        var q = Linear(tape, input, p + "attention.self.query");
        var k = Linear(tape, input, p + "attention.self.key");
        var v = Linear(tape, input, p + "attention.self.value");
        if (_rotaryTable is not null)
        {
            q = tape.Rotary(q, batch.Offsets, c.NumAttentionHeads, _rotaryTable);
            k = tape.Rotary(k, batch.Offsets, c.NumAttentionHeads, _rotaryTable);
            if (c.RotaryValue) v = tape.Rotary(v, batch.Offsets, c.NumAttentionHeads, _rotaryTable);
        }
        int site = 1 + 3 * l;
        var context = tape.Attention(q, k, v, batch.Offsets, c.NumAttentionHeads, attentionDrop, sequenceKeys, site);
        var attention = tape.Dropout(Linear(tape, context, p + "attention.output.dense"), hiddenDrop, rowKeys, site + 1);
        attention = LayerNorm(tape, tape.Add(attention, input), p + "attention.output.LayerNorm");
        var intermediate = tape.Activation(Linear(tape, attention, p + "intermediate.dense"), c.Activation);
        var output = tape.Dropout(Linear(tape, intermediate, p + "output.dense"), hiddenDrop, rowKeys, site + 2);
        return LayerNorm(tape, tape.Add(output, attention), p + "output.LayerNorm");
    }

    /// <summary>Forward pass then pooling: one vector per sequence, [BatchSize, HiddenSize].</summary>
    public Tensor Encode(Tape tape, TokenBatch batch, PoolingMode pooling, ulong[]? dropoutKeys = null)
    {
        var output = Forward(tape, batch, dropoutKeys);
        return pooling switch
        {
            PoolingMode.Mean or PoolingMode.LastAvg => tape.MeanPool(output.Last, output.Offsets),
            PoolingMode.Cls => tape.FirstTokenPool(output.Last, output.Offsets),
            PoolingMode.FirstLastAvg => tape.FirstLastAveragePool(output.FirstLayer, output.Last, output.Offsets),
            _ => throw new SemblanceException($"pooling '{Pooling.Format(pooling)}' is not available for training; use mean, cls or first-last-avg"),
        };
    }

    /// <summary>Per-row dropout keys from per-sequence keys: key of row (s, position p) = mix(key_s, p).</summary>
    private static ulong[] RowKeys(TokenBatch batch, ulong[] sequenceKeys)
    {
        var keys = new ulong[batch.TokenCount];
        for (int b = 0; b < batch.BatchSize; b++)
            for (int p = 0; p < batch.Length(b); p++)
                keys[batch.Offsets[b] + p] = DropoutMask.Mix(sequenceKeys[b] ^ ((ulong)p * 0xD1B54A32D192ED03UL));
        return keys;
    }

    private Tensor Linear(Tape tape, Tensor x, string prefix) => tape.Linear(x, this[prefix + ".weight"], this[prefix + ".bias"]);

    private Tensor LayerNorm(Tape tape, Tensor x, string prefix) =>
        tape.LayerNorm(x, this[prefix + ".weight"], this[prefix + ".bias"], (float)Config.LayerNormEps);

    public void ZeroGrad()
    {
        foreach (var p in Parameters) p.ZeroGrad();
    }

    /// <summary>All tensors as <c>model.safetensors</c> (F32, checkpoint names, written crash-safely).</summary>
    public void SaveWeights(string path)
    {
        var writer = new SafeTensorsWriter();
        foreach (var p in Parameters) writer.Add(p.Name, p.Shape, p.Data);
        writer.Save(path);
    }
}
