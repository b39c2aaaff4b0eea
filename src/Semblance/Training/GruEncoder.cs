// A small recurrent sentence encoder trained from scratch: embedding → bidirectional GRU → mean pooling.
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>
/// e_t = E[id_t]; h→_t = GRU→(e_t, h→_{t−1}); h←_t = GRU←(e_t, h←_{t+1}); sentence = mean_t [h→_t ; h←_t] (2H values).
/// Tensor names follow PyTorch (<c>embeddings.weight</c>, <c>gru.weight_ih_l0</c>, <c>gru.weight_ih_l0_reverse</c>, ...)
/// so the weights load into <c>nn.Embedding</c> + <c>nn.GRU(bidirectional=True, batch_first=True)</c>.
/// </summary>
public sealed class GruEncoder : ITrainableEncoder
{
    private static readonly string[] Suffixes = ["", "_reverse"];

    private readonly Dictionary<string, Parameter> _byName;

    private GruEncoder(GruConfig config, List<Parameter> parameters)
    {
        Config = config;
        Parameters = parameters;
        _byName = parameters.ToDictionary(p => p.Name, StringComparer.Ordinal);
    }

    public GruConfig Config { get; }

    public int VocabSize => Config.VocabSize;

    public int EmbeddingSize => Config.EmbeddingSize;

    public int HiddenSize => Config.HiddenSize;

    /// <summary>Sentence vector size: both directions.</summary>
    public int Dimension => Config.Dimension;

    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>The checkpoint tensors in <c>state_dict</c> order of <c>nn.Embedding</c> + <c>nn.GRU(bidirectional=True)</c>.</summary>
    public static List<(string Name, int[] Shape)> Layout(GruConfig c)
    {
        int h = c.HiddenSize, e = c.EmbeddingSize;
        var list = new List<(string, int[])> { ("embeddings.weight", [c.VocabSize, e]) };
        foreach (var suffix in Suffixes)
        {
            list.Add(($"gru.weight_ih_l0{suffix}", [3 * h, e]));
            list.Add(($"gru.weight_hh_l0{suffix}", [3 * h, h]));
            list.Add(($"gru.bias_ih_l0{suffix}", [3 * h]));
            list.Add(($"gru.bias_hh_l0{suffix}", [3 * h]));
        }
        return list;
    }

    public static GruEncoder Initialize(int vocabSize, int embeddingSize, int hiddenSize, int seed) =>
        Initialize(new GruConfig { VocabSize = vocabSize, EmbeddingSize = embeddingSize, HiddenSize = hiddenSize }, seed);

    /// <summary>
    /// PyTorch's initialisation: embeddings ~ N(0, 1), GRU weights and biases ~ U(−1/√H, 1/√H), drawn in
    /// <see cref="Layout"/> order from one <see cref="Random"/> seeded with <paramref name="seed"/>.
    /// </summary>
    public static GruEncoder Initialize(GruConfig config, int seed)
    {
        var rng = new Random(seed);
        float bound = 1f / MathF.Sqrt(config.HiddenSize);
        var parameters = new List<Parameter>();
        foreach (var (name, shape) in Layout(config))
        {
            var data = new float[shape.Aggregate(1, (a, b) => a * b)];
            if (name == "embeddings.weight")
                for (int i = 0; i < data.Length; i++)
                    data[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
            else
                for (int i = 0; i < data.Length; i++) data[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
            parameters.Add(new Parameter(name, shape, data));
        }
        return new GruEncoder(config, parameters);
    }

    /// <summary>Loads a checkpoint directory written by <see cref="Save"/> (or by PyTorch under the same names) as float32 copies.</summary>
    public static GruEncoder Load(string modelDir, bool allowNonFinite = false)
    {
        if (!Directory.Exists(modelDir)) throw new ModelFormatException($"{modelDir}: model directory not found");
        var config = GruConfig.Load(Path.Combine(modelDir, TransformerLoader.ConfigFileName));
        using var weights = ModelWeights.Open(modelDir, allowNonFinite);
        var parameters = Layout(config).Select(l => new Parameter(l.Name, l.Shape, weights.Root.Get(l.Name, l.Shape).Span.ToArray())).ToList();
        return new GruEncoder(config, parameters);
    }

    public Tensor Encode(Tape tape, TokenBatch batch, PoolingMode pooling, ulong[]? dropoutKeys = null)
    {
        if (pooling is not (PoolingMode.Mean or PoolingMode.LastAvg))
            throw new SemblanceException($"the GRU encoder pools by mean only, not '{Embeddings.Pooling.Format(pooling)}'");
        var e = tape.Embedding(_byName["embeddings.weight"], batch.Ids);
        var forward = Direction(tape, e, batch.Offsets, "");
        var backward = Direction(tape, e, batch.Offsets, "_reverse");
        return tape.MeanPool(tape.ConcatColumns(forward, backward), batch.Offsets);
    }

    private Tensor Direction(Tape tape, Tensor e, int[] offsets, string suffix) => tape.Gru(e, offsets,
        _byName["gru.weight_ih_l0" + suffix], _byName["gru.weight_hh_l0" + suffix], _byName["gru.bias_ih_l0" + suffix], _byName["gru.bias_hh_l0" + suffix],
        reverse: suffix.Length > 0);

    /// <summary>model.safetensors (F32, PyTorch names, written crash-safely).</summary>
    public void SaveWeights(string path)
    {
        var writer = new SafeTensorsWriter();
        foreach (var p in Parameters) writer.Add(p.Name, p.Shape, p.Data);
        writer.Save(path);
    }

    /// <summary>model.safetensors plus config.json ("model_type": "semblance-gru"); tokenizer files are the caller's.</summary>
    public void Save(string dir)
    {
        Directory.CreateDirectory(dir);
        SaveWeights(Path.Combine(dir, ModelWeights.SingleFileName));
        IO.AtomicFile.WriteAllText(Path.Combine(dir, TransformerLoader.ConfigFileName), Config.ToJson());
    }
}
