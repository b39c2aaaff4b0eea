// A small recurrent sentence encoder trained from scratch: embedding → bidirectional GRU → mean pooling.
using System.Text.Json.Nodes;
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
    private readonly Dictionary<string, Parameter> _byName;

    private GruEncoder(int vocabSize, int embeddingSize, int hiddenSize, List<Parameter> parameters)
    {
        VocabSize = vocabSize;
        EmbeddingSize = embeddingSize;
        HiddenSize = hiddenSize;
        Parameters = parameters;
        _byName = parameters.ToDictionary(p => p.Name, StringComparer.Ordinal);
    }

    public int VocabSize { get; }

    public int EmbeddingSize { get; }

    public int HiddenSize { get; }

    /// <summary>Sentence vector size: both directions.</summary>
    public int Dimension => 2 * HiddenSize;

    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>PyTorch's initialisation: embeddings ~ N(0, 1), GRU weights and biases ~ U(−1/√H, 1/√H).</summary>
    public static GruEncoder Initialize(int vocabSize, int embeddingSize, int hiddenSize, int seed)
    {
        var rng = new Random(seed);
        float bound = 1f / MathF.Sqrt(hiddenSize);
        var parameters = new List<Parameter>();
        var embedding = new float[vocabSize * embeddingSize];
        for (int i = 0; i < embedding.Length; i++)
            embedding[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        parameters.Add(new Parameter("embeddings.weight", [vocabSize, embeddingSize], embedding));
        foreach (var suffix in new[] { "", "_reverse" })
        {
            foreach (var (name, shape) in new (string, int[])[]
            {
                ("weight_ih_l0", [3 * hiddenSize, embeddingSize]), ("weight_hh_l0", [3 * hiddenSize, hiddenSize]),
                ("bias_ih_l0", [3 * hiddenSize]), ("bias_hh_l0", [3 * hiddenSize]),
            })
            {
                var data = new float[shape.Aggregate(1, (a, b) => a * b)];
                for (int i = 0; i < data.Length; i++) data[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
                parameters.Add(new Parameter($"gru.{name}{suffix}", shape, data));
            }
        }
        return new GruEncoder(vocabSize, embeddingSize, hiddenSize, parameters);
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

    /// <summary>model.safetensors plus a config.json recording the sizes ("model_type": "semblance-gru").</summary>
    public void Save(string dir)
    {
        Directory.CreateDirectory(dir);
        var writer = new SafeTensorsWriter();
        foreach (var p in Parameters) writer.Add(p.Name, p.Shape, p.Data);
        writer.Save(Path.Combine(dir, ModelWeights.SingleFileName));
        var config = new JsonObject
        {
            ["model_type"] = "semblance-gru", ["vocab_size"] = VocabSize, ["embedding_size"] = EmbeddingSize, ["hidden_size"] = HiddenSize,
            ["bidirectional"] = true, ["pooling"] = "mean",
        };
        IO.AtomicFile.WriteAllText(Path.Combine(dir, TransformerLoader.ConfigFileName), config.ToJsonString() + "\n");
    }
}
