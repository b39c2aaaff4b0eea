// The recording execution of TransformerNetwork (BERT, RoFormer): the same modules and names as inference, on the tape.
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>The hidden states a training forward pass keeps: after the first layer and after the last.</summary>
internal sealed record TransformerHiddenStates(Tensor FirstLayer, Tensor Last, int[] Offsets);

/// <summary>
/// Hugging Face <c>BertModel</c> / <c>RoFormerModel</c> (post-LN layers) computed op by op on a <see cref="Tape"/>,
/// so every weight gets a gradient. The network is <see cref="TransformerNetwork"/>, the definition inference runs;
/// parameters carry the checkpoint's tensor names, and <see cref="SaveWeights"/> writes them back under those names,
/// so a trained model loads in the inference engine unchanged. Dropout (hidden_dropout_prob,
/// attention_probs_dropout_prob) is active only when the caller passes per-sequence keys.
/// </summary>
internal sealed class TrainableTransformer : ITrainableModel
{
    private readonly TransformerNetwork _network;
    private readonly SequenceClassificationHead? _head;
    private readonly Dictionary<string, Parameter> _byName;
    private readonly MaskedLmHead? _mlmHead;

    private TrainableTransformer(TransformerNetwork network, SequenceClassificationHead? head = null, MaskedLmHead? mlmHead = null)
    {
        _network = network;
        _head = head;
        _mlmHead = mlmHead;
        // Materialise the float32 copies now: the checkpoint they come from is closed after loading.
        Parameters = network.Parameters.Concat(head?.Parameters ?? []).Concat(mlmHead?.Parameters ?? []).Select(p => p.Trainable).ToList();
        _byName = Parameters.ToDictionary(p => p.Name, StringComparer.Ordinal);
    }

    /// <summary>Outputs of the sequence-classification head (<see cref="LoadPairScorer"/>), 0 for a bare encoder.</summary>
    public int NumLabels => _head?.NumLabels ?? 0;

    public TransformerConfig Config => _network.Config;

    /// <summary>Every tensor saved with the model, in checkpoint order (trainable or not).</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    public IEnumerable<Parameter> Trainable => Parameters.Where(p => p.RequiresGrad);

    public int Dimension => Config.HiddenSize;

    public int VocabSize => Config.VocabSize;

    public int MaxPositions => Config.MaxPositionEmbeddings;

    public bool HasPooler => _network.HasPooler;

    /// <summary>Whether the model carries a masked-LM head (<see cref="LoadWithMaskedLmHead"/>); it is then saved as *ForMaskedLM.</summary>
    public bool HasMaskedLmHead => _mlmHead is not null;

    /// <summary>
    /// The checkpoint name a parameter is saved under: the bare model's names, or with a masked-LM head the
    /// *ForMaskedLM layout transformers expects (<c>bert.</c>/<c>roformer.</c> before the network's names, the head's
    /// <c>cls.predictions.*</c> as they are; the tied decoder weight is not written, as safetensors saving drops it).
    /// </summary>
    private string MaskedLmCheckpointName(Parameter parameter) =>
        parameter.Name.StartsWith("cls.", StringComparison.Ordinal) ? parameter.Name : MaskedLmPrefix(Config) + parameter.Name;

    /// <summary>The base-model prefix of BertForMaskedLM / RoFormerForMaskedLM checkpoints.</summary>
    public static string MaskedLmPrefix(TransformerConfig config) => config.IsRoFormer ? "roformer." : "bert.";

    /// <summary>The architecture name config.json records for a model with a masked-LM head.</summary>
    public static string MaskedLmArchitecture(TransformerConfig config) => config.IsRoFormer ? "RoFormerForMaskedLM" : "BertForMaskedLM";

    /// <summary>
    /// A BERT or RoFormer checkpoint with its masked-LM head, the decoder tied to the word embeddings. A checkpoint
    /// without a head (a sentence encoder) gets a fresh one drawn with <paramref name="seed"/> as transformers'
    /// <c>_init_weights</c> would (<paramref name="initialized"/> says so); any other model type is refused.
    /// </summary>
    public static TrainableTransformer LoadWithMaskedLmHead(string modelDir, int seed, out bool initialized, bool allowNonFinite = false)
    {
        var config = TransformerLoader.LoadConfig(modelDir);
        RequireMaskedLmType(config, Path.Combine(modelDir, TransformerLoader.ConfigFileName));
        using var weights = ModelWeights.Open(modelDir, allowNonFinite);
        var root = EncoderRoot(config, weights);
        var network = TransformerNetwork.Load(config, root, TransformerNetwork.HasPoolerWeights(config, root));
        initialized = !MaskedLmHead.Present(weights.Root);
        var headSource = initialized ? new WeightView(new InitialWeights(config, seed), "", 0) : weights.Root;
        return new TrainableTransformer(network, mlmHead: MaskedLmHead.LoadTied(headSource, network.WordEmbeddings, config));
    }

    /// <summary>A fresh network (<see cref="Initialize"/>) with a fresh tied masked-LM head.</summary>
    public static TrainableTransformer InitializeWithMaskedLmHead(TransformerConfig config, int seed)
    {
        RequireMaskedLmType(config, "config.json");
        var bare = Initialize(config, seed);
        return new TrainableTransformer(bare._network, mlmHead: MaskedLmHead.LoadTied(new WeightView(new InitialWeights(config, seed ^ 0x5EED), "", 0), bare._network.WordEmbeddings, config));
    }

    private static void RequireMaskedLmType(TransformerConfig config, string where)
    {
        if (config.ModelType is not ("bert" or "roformer"))
            throw new ModelFormatException($"{where}: model_type '{config.ModelType}' has no masked-LM head Semblance can train; the seq2seq (UniLM) objective takes a bert or roformer model");
    }

    /// <summary>Masked-LM logits [rows, vocab] of hidden rows [rows, hidden] (the last layer's).</summary>
    public Tensor MaskedLmLogits(Tape tape, Tensor hidden) =>
        (_mlmHead ?? throw new InvalidOperationException("the model was loaded without a masked-LM head")).Forward(tape, hidden);

    /// <summary>The base model's weights in a checkpoint (prefix resolved), with every encoder layer present.</summary>
    private static WeightView EncoderRoot(TransformerConfig config, ModelWeights weights)
    {
        var root = TransformerNetwork.Root(config, weights);
        root.Prefix("encoder").RequireLayers(config.NumHiddenLayers, "attention.self.query.weight");
        return root;
    }

    /// <summary>
    /// Replaces config.json's hidden_dropout_prob and attention_probs_dropout_prob during training (both set to this
    /// value; null keeps the config's). The saved config.json is not changed.
    /// </summary>
    public double? DropoutOverride { get; set; }

    public Parameter this[string name] =>
        _byName.TryGetValue(name, out var p) ? p : throw new KeyNotFoundException($"the model has no parameter '{name}'");

    /// <summary>Loads config.json and the safetensors weights of a Hugging Face BERT or RoFormer directory as float32 copies.</summary>
    public static TrainableTransformer Load(string modelDir, bool allowNonFinite = false)
    {
        var config = TransformerLoader.LoadConfig(modelDir);
        using var weights = ModelWeights.Open(modelDir, allowNonFinite);
        var root = EncoderRoot(config, weights);
        return new TrainableTransformer(TransformerNetwork.Load(config, root, TransformerNetwork.HasPoolerWeights(config, root)));
    }

    /// <summary>
    /// A <c>*ForSequenceClassification</c> model for pair scoring: the encoder of <paramref name="modelDir"/> plus its
    /// <c>classifier.*</c> head, or — from a bare encoder — a fresh head of <paramref name="numLabels"/> outputs (and a
    /// fresh pooler for BERT when the checkpoint has none), drawn as <see cref="Initialize"/> draws. A checkpoint that
    /// already has a head keeps it; <paramref name="numLabels"/> must then agree with its config.json.
    /// </summary>
    public static TrainableTransformer LoadPairScorer(string modelDir, int? numLabels, int seed, bool allowNonFinite = false)
    {
        var config = TransformerLoader.LoadConfig(modelDir);
        using var weights = ModelWeights.Open(modelDir, allowNonFinite);
        bool stored = SequenceClassificationHead.Present(weights.Root);
        if (stored && numLabels is int asked && asked != config.NumLabels)
            throw new ModelFormatException($"--num-labels {asked} disagrees with {Path.Combine(modelDir, TransformerLoader.ConfigFileName)}: its classifier has num_labels {config.NumLabels}; drop --num-labels to fine-tune that head, or start from an encoder without classifier.* weights");
        int labels = stored ? config.NumLabels : numLabels ?? 1;
        var root = EncoderRoot(config, weights);
        // What the checkpoint lacks (the head, BERT's pooler) comes fresh; everything it has is read from it.
        var source = new CheckpointOrFresh(weights, new InitialWeights(config, seed));
        var network = TransformerNetwork.Load(config, new WeightView(source, root.Path, root.Path.Length), pooler: !config.IsRoFormer);
        var head = SequenceClassificationHead.Load(new WeightView(source, "", 0), config, labels);
        return new TrainableTransformer(network, head);
    }

    /// <summary>
    /// Logits [BatchSize, NumLabels] of each sequence (a <c>[CLS] text [SEP] text_pair [SEP]</c> pair): the encoder, then
    /// the head on the pooler output (BERT) or the [CLS] row (RoFormer), as transformers' *ForSequenceClassification.
    /// </summary>
    public Tensor Score(Tape tape, TokenBatch batch, ulong[]? dropoutKeys = null)
    {
        var head = _head ?? throw new InvalidOperationException("this model has no sequence-classification head; load it with LoadPairScorer");
        var pass = Pass(tape, batch, dropoutKeys);
        var output = Forward(pass);
        return head.Forward(pass, head.ReadsPooler ? _network.Pooler(pass, output.Last) : output.Last);
    }

    /// <summary>
    /// The name a tensor is saved under: the bare model's names for an encoder; for a pair scorer, transformers'
    /// *ForSequenceClassification names (encoder under <c>bert.</c>/<c>roformer.</c>, head under <c>classifier.</c>).
    /// </summary>
    public string CheckpointName(Parameter p) =>
        _mlmHead is not null ? MaskedLmCheckpointName(p)
        : _head is null || p.Name.StartsWith("classifier.", StringComparison.Ordinal) ? p.Name : BaseModelPrefix(Config) + "." + p.Name;

    /// <summary>
    /// The head <c>--head-lr</c> rates: the masked-LM head's own tensors (<c>cls.predictions.*</c>), or a pair scorer's
    /// <c>classifier.*</c> and the BERT pooler it reads (fresh when the start checkpoint has none).
    /// </summary>
    public bool IsHeadParameter(Parameter p) =>
        _mlmHead is not null ? p.Name.StartsWith(MaskedLmHead.Prefix, StringComparison.Ordinal)
        : _head is not null && (p.Name.StartsWith("classifier.", StringComparison.Ordinal) || p.Name.StartsWith("pooler.", StringComparison.Ordinal));

    /// <summary>transformers' base_model_prefix of the model type (bert, roformer, ernie).</summary>
    public static string BaseModelPrefix(TransformerConfig config) => config.ModelType;

    /// <summary>transformers' class name of the sequence-classification model of the model type.</summary>
    public static string SequenceClassificationArchitecture(TransformerConfig config) => config.ModelType switch
    {
        "roformer" => "RoFormerForSequenceClassification",
        "ernie" => "ErnieForSequenceClassification",
        _ => "BertForSequenceClassification",
    };

    private sealed class CheckpointOrFresh(ModelWeights checkpoint, ITensorSource fresh) : ITensorSource
    {
        public string Source => checkpoint.Source;

        public bool Contains(string name) => checkpoint.Contains(name);

        public FloatTensor Get(string name, int[] shape) => checkpoint.Contains(name) ? checkpoint.Get(name, shape) : fresh.Get(name, shape);
    }

    /// <summary>
    /// Fresh weights as transformers' <c>_init_weights</c>: Linear and embedding weights ~ N(0, initializer_range²),
    /// biases 0, LayerNorm γ = 1 and β = 0, the pad_token_id embedding row 0. Deterministic in <paramref name="seed"/>:
    /// values are drawn in the order the modules load their tensors (state_dict order).
    /// </summary>
    public static TrainableTransformer Initialize(TransformerConfig config, int seed)
    {
        double bytes = config.ParameterCount() * sizeof(float);
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (bytes > available)
            throw new SemblanceException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"the config describes {config.ParameterCount():G4} parameters ({bytes / (1 << 30):F1} GiB), more than the {available / (double)(1 << 30):F1} GiB of memory available; check num_hidden_layers, hidden_size, intermediate_size and vocab_size"));
        return new(TransformerNetwork.Load(config, new WeightView(new InitialWeights(config, seed), "", 0), pooler: !config.IsRoFormer));
    }

    /// <summary>The tensor source of <see cref="Initialize"/>: every requested tensor drawn fresh, none "present".</summary>
    private sealed class InitialWeights(TransformerConfig config, int seed) : ITensorSource
    {
        private readonly Random _rng = new(seed);

        public string Source => "fresh initialisation";

        public bool Contains(string name) => false;

        public FloatTensor Get(string name, int[] shape)
        {
            int length = shape.Aggregate(1, (a, b) => a * b);
            var data = new float[length];
            if (name.EndsWith("LayerNorm.weight", StringComparison.Ordinal)) Array.Fill(data, 1f);
            else if (name.EndsWith(".weight", StringComparison.Ordinal))
            {
                for (int i = 0; i < length; i++) data[i] = (float)(Normal() * config.InitializerRange);
                if (name == "embeddings.word_embeddings.weight" && config.PadTokenId is int pad && pad >= 0 && pad < shape[0])
                    Array.Clear(data, pad * shape[1], shape[1]);
            }
            return new FloatTensor(name, shape, data);
        }

        private double Normal()
        {
            double u1 = 1.0 - _rng.NextDouble(), u2 = _rng.NextDouble();
            return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }
    }

    /// <summary>
    /// The forward pass. <paramref name="dropoutKeys"/> (one per sequence) turns dropout on; the masks of a sequence
    /// depend only on its key, so the same sequence with the same key gives the same result in any batch.
    /// </summary>
    public TransformerHiddenStates Forward(Tape tape, TokenBatch batch, ulong[]? dropoutKeys = null) => Forward(Pass(tape, batch, dropoutKeys));

    private TransformerHiddenStates Forward(TapePass pass)
    {
        var (first, last) = _network.Forward(pass);
        return new TransformerHiddenStates(first, last, pass.Batch.Offsets);
    }

    private TapePass Pass(Tape tape, TokenBatch batch, ulong[]? dropoutKeys)
    {
        var c = Config;
        if (dropoutKeys is not null && dropoutKeys.Length != batch.BatchSize)
            throw new ArgumentException($"{dropoutKeys.Length} dropout keys for {batch.BatchSize} sequences", nameof(dropoutKeys));
        _network.Validate(batch);
        if (dropoutKeys is null) return new TapePass(tape, batch, null, null, 0f, 0f);
        return new TapePass(tape, batch, RowKeys(batch, dropoutKeys), dropoutKeys,
            (float)(DropoutOverride ?? c.HiddenDropoutProb), (float)(DropoutOverride ?? c.AttentionProbsDropoutProb));
    }

    /// <summary>Forward pass then pooling: one vector per sequence, [BatchSize, HiddenSize].</summary>
    public Tensor Encode(Tape tape, TokenBatch batch, PoolingMode pooling, ulong[]? dropoutKeys = null)
    {
        var pass = Pass(tape, batch, dropoutKeys);
        var output = Forward(pass);
        return Pooling.UsesPoolerLayer(pooling)
            ? _network.Pooler(pass, output.Last, tanh: pooling == PoolingMode.Pooler)
            : tape.Pool(pooling, output.FirstLayer, output.Last, output.Offsets);
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

    public void ZeroGrad()
    {
        foreach (var p in Parameters) p.ZeroGrad();
    }

    /// <summary>All tensors as <c>model.safetensors</c> (F32, checkpoint names, written crash-safely).</summary>
    public void SaveWeights(string path)
    {
        var writer = new SafeTensorsWriter();
        foreach (var p in Parameters) writer.Add(CheckpointName(p), p.Shape, p.Data);
        writer.Save(path);
    }
}
