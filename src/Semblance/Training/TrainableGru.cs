// The tape execution of GruNetwork: a small recurrent sentence encoder trained from scratch.
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>
/// <see cref="GruNetwork"/> (embedding → GRU → mean or last-state pooling, PyTorch tensor names) on a <see cref="Tape"/>;
/// the same parameters <see cref="GruModel"/> runs for inference.
/// </summary>
internal sealed class TrainableGru : ITrainableModel
{
    private readonly GruNetwork _network;

    private TrainableGru(GruNetwork network)
    {
        _network = network;
        Parameters = network.Parameters.Select(p => p.Trainable).ToList();
    }

    public GruConfig Config => _network.Config;

    public int VocabSize => Config.VocabSize;

    public int EmbeddingSize => Config.EmbeddingSize;

    public int HiddenSize => Config.HiddenSize;

    /// <summary>Sentence vector size: hidden_size per direction.</summary>
    public int Dimension => Config.Dimension;

    public int MaxPositions => Config.MaxLength;

    public IReadOnlyList<Parameter> Parameters { get; }

    public static TrainableGru Initialize(int vocabSize, int embeddingSize, int hiddenSize, int seed) =>
        Initialize(new GruConfig { VocabSize = vocabSize, EmbeddingSize = embeddingSize, HiddenSize = hiddenSize }, seed);

    /// <summary>
    /// PyTorch's initialisation: embeddings ~ N(0, 1), GRU weights and biases ~ U(−1/√H, 1/√H), drawn in state_dict
    /// order from one <see cref="Random"/> seeded with <paramref name="seed"/>.
    /// </summary>
    public static TrainableGru Initialize(GruConfig config, int seed) =>
        new(GruNetwork.Load(config, new WeightView(new InitialWeights(config, seed), "", 0)));

    private sealed class InitialWeights(GruConfig config, int seed) : ITensorSource
    {
        private readonly Random _rng = new(seed);

        public string Source => "fresh initialisation";
        private readonly float _bound = 1f / MathF.Sqrt(config.HiddenSize);

        public bool Contains(string name) => false;

        public FloatTensor Get(string name, int[] shape)
        {
            var data = new float[shape.Aggregate(1, (a, b) => a * b)];
            if (name == "embeddings.weight")
                for (int i = 0; i < data.Length; i++)
                    data[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - _rng.NextDouble())) * Math.Cos(2 * Math.PI * _rng.NextDouble()));
            else
                for (int i = 0; i < data.Length; i++) data[i] = (float)((_rng.NextDouble() * 2 - 1) * _bound);
            return new FloatTensor(name, shape, data);
        }
    }

    /// <summary>Loads a checkpoint directory written by <see cref="Save"/> (or by PyTorch under the same names) as float32 copies.</summary>
    public static TrainableGru Load(string modelDir, bool allowNonFinite = false)
    {
        if (!Directory.Exists(modelDir)) throw new ModelFormatException($"{modelDir}: model directory not found");
        var config = GruConfig.Load(Path.Combine(modelDir, TransformerLoader.ConfigFileName));
        using var weights = ModelWeights.Open(modelDir, allowNonFinite);
        return new TrainableGru(GruNetwork.Load(config, weights.Root));
    }

    public Tensor Encode(Tape tape, TokenBatch batch, PoolingMode pooling, ulong[]? dropoutKeys = null)
    {
        if (pooling is not (PoolingMode.Mean or PoolingMode.LastAvg))
            throw new SemblanceException($"the GRU encoder pools as its config.json's \"pooling\" says (mean or last), not by '{Embeddings.Pooling.Format(pooling)}'");
        return _network.Encode(tape, batch);
    }

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
