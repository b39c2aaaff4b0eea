// What turns a list of texts into raw (pooled, un-whitened, un-normalised) vectors: a transformer, the default encoder...
namespace Semblance.Embeddings;

/// <summary>Options a user may set when loading an encoder; null/0 means "what the model directory says".</summary>
public sealed record EncoderOptions
{
    /// <summary>Pooling name (cls, mean, first-last-avg, last-avg, max, pooler, pooler-linear); null = the directory's semblance_pooling.json, else its sentence-transformers config, else mean.</summary>
    public string? Pooling { get; init; }

    /// <summary>L2-normalise outputs; null = as the directory says (sentence-transformers Normalize module).</summary>
    public bool? Normalize { get; init; }

    /// <summary>Maximum tokens per sequence including special tokens; 0 = max_position_embeddings capped at 512.</summary>
    public int MaxLength { get; init; }

    public int BatchSize { get; init; } = 32;

    /// <summary>
    /// How a transformer's encoder layers hold their Linear weights: float32, or int8 (per-channel int8 weights,
    /// per-row dynamic int8 activations); null = what the model directory's semblance_config.json says, else float32.
    /// </summary>
    public Models.WeightPrecision? Precision { get; init; }

    /// <summary>A prompt of the model's (sentence-transformers' <c>prompt_name</c>, e.g. "query") prepended to every input; null = the model's default prompt.</summary>
    public string? PromptName { get; init; }

    /// <summary>Literal text prepended to every input (sentence-transformers' <c>prompt</c>); wins over <see cref="PromptName"/>.</summary>
    public string? Prompt { get; init; }

    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Load weights (and whitening files) that hold NaN or ±Inf instead of refusing them. Embeddings are still
    /// checked: an item whose vector comes out non-finite is an error, never a silent NaN.
    /// </summary>
    public bool AllowNonFinite { get; init; }

    /// <summary>
    /// Entropy-invariant attention scale (Su, "entropy-invariant softmax attention"): 0 = off (the default); N &gt; 0 =
    /// the length the model was trained at, and a sequence of n &gt; N tokens has its attention logits multiplied by
    /// log n / log N, so the attention entropy stays near what training saw. BERT-family (transformer) models only.
    /// </summary>
    public int EntropyScaleTrainLength { get; init; }
}

public interface IEmbeddingBackend : IDisposable
{
    /// <summary>config.json's model_type, e.g. "bert", "roformer", "semblance-lsa".</summary>
    string ModelType { get; }

    int Dimension { get; }

    /// <summary>The pooling actually used, in CLI spelling.</summary>
    string Pooling { get; }

    /// <summary>Whether the directory asks for L2-normalised outputs.</summary>
    bool NormalizeByDefault { get; }

    /// <summary>How the model's vectors are meant to be compared (sentence-transformers' similarity_fn_name); cosine unless the directory says otherwise.</summary>
    SimilarityFunction SimilarityFunction => SimilarityFunction.Cosine;

    /// <summary>Longest sequence in tokens; 0 when the backend has no such limit.</summary>
    int MaxLength { get; }

    /// <summary>The tokenizer the backend reads text with (to count tokens, e.g. for the server's 413); null when it has none.</summary>
    Text.ITokenizer? Tokenizer => null;

    /// <summary>Writes one row of <see cref="Dimension"/> floats per text, in order; returns the number of (non-padding) tokens used.</summary>
    long Embed(IReadOnlyList<string> texts, Span<float> output, CancellationToken cancellationToken = default);

    /// <summary>Facts for `semblance info`: architecture, sizes, tokenizer, parameter count...</summary>
    IReadOnlyList<KeyValuePair<string, string>> Describe();
}

/// <summary>A linear or other map applied to pooled vectors before normalisation (e.g. BERT-whitening).</summary>
public interface IVectorTransform
{
    int InputDimension { get; }

    int OutputDimension { get; }

    /// <summary>Maps <paramref name="rows"/> input rows to output rows.</summary>
    void Apply(ReadOnlySpan<float> input, Span<float> output, int rows);
}
