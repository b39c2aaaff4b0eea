// A vector index that knows its encoder: text in, hits out. The manifest records the encoder the documents were
// encoded with (IndexEncoder); queries are encoded with exactly that (prompt, model, pooling, whitening,
// normalisation), and opening the index with another encoder is an error unless the caller allows it.
using Semblance.Embeddings;

namespace Semblance.Search;

/// <summary>Options for <see cref="SemanticIndex.Open"/>.</summary>
public sealed record SemanticIndexOptions
{
    /// <summary>Check every data file's checksum while opening.</summary>
    public bool Verify { get; init; } = true;

    /// <summary>Worker threads for search and for the query encoder.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Use the recorded model even if its files changed since the index was built (checksum mismatch).</summary>
    public bool AllowEncoderMismatch { get; init; }
}

/// <summary>
/// Text search over a <see cref="VectorIndex"/> whose manifest records its encoder. Typical use:
/// <code>using var index = SemanticIndex.Open("idx"); SearchHit[] hits = index.Search("how do I reset my password", 5);</code>
/// Not thread-safe: one search or write at a time.
/// </summary>
public sealed class SemanticIndex : IDisposable
{
    private readonly SemanticIndexOptions _options;
    private SentenceEncoder? _encoder;
    private bool _ownsEncoder;
    private Whitening? _whitening;
    private bool _normalize;

    private SemanticIndex(VectorIndex vectors, string? directory, SemanticIndexOptions options)
    {
        Vectors = vectors;
        Directory = directory;
        _options = options;
    }

    /// <summary>The vectors, ids and texts.</summary>
    public VectorIndex Vectors { get; }

    /// <summary>Where the index was opened from or last saved to (null for a new, unsaved index).</summary>
    public string? Directory { get; private set; }

    /// <summary>The encoder the documents were encoded with (null for an index built from vectors).</summary>
    public IndexEncoder? Encoder => Vectors.Encoder;

    /// <summary>The encoder queries go through (opened from the recorded model on first use unless one was given).</summary>
    public SentenceEncoder QueryEncoder => _encoder ?? OpenRecordedEncoder();

    private string Name => Directory ?? "the index";

    /// <summary>
    /// A new, empty index over <paramref name="vectors"/> (empty) whose text is encoded by <paramref name="encoder"/>,
    /// loaded from <paramref name="model"/> with the whitening file <paramref name="whitening"/> applied (or none).
    /// The caller keeps ownership of the encoder.
    /// </summary>
    public static SemanticIndex Create(VectorIndex vectors, SentenceEncoder encoder, string model, string? whitening = null, string? queryPrompt = null)
    {
        if (vectors.SlotCount != 0) throw new ArgumentException("the vector index must be empty", nameof(vectors));
        if (encoder.Dimension != vectors.Dimension)
            throw new SemblanceException($"{model}: the encoder produces {encoder.Dimension}-dimensional vectors but the index has dimension {vectors.Dimension}");
        vectors.Encoder = IndexEncoder.Describe(encoder, model, whitening, queryPrompt);
        var index = new SemanticIndex(vectors, null, new SemanticIndexOptions { Threads = vectors.Threads });
        index.Bind(encoder, owns: false, applyWhitening: false);
        return index;
    }

    /// <summary>
    /// Wraps an index held in memory (e.g. built from vectors); text queries then need <see cref="UseEncoder"/> unless
    /// the index records its encoder.
    /// </summary>
    public static SemanticIndex Wrap(VectorIndex vectors) => new(vectors, null, new SemanticIndexOptions { Threads = vectors.Threads });

    /// <summary>Opens the committed index in <paramref name="directory"/> (see <see cref="VectorIndex.Load"/>).</summary>
    public static SemanticIndex Open(string directory, SemanticIndexOptions? options = null)
    {
        options ??= new SemanticIndexOptions();
        var vectors = VectorIndex.Load(directory, options.Verify);
        vectors.Threads = options.Threads;
        return new SemanticIndex(vectors, directory, options);
    }

    /// <summary>
    /// Encodes queries (and added text) with <paramref name="encoder"/>, loaded by the caller from
    /// <paramref name="model"/> with the whitening file <paramref name="whitening"/> applied (or none). It must be the
    /// recorded encoder: same model files and pooling, and the recorded whitening or none (the index then applies
    /// its own). Anything else is an error naming the difference unless <paramref name="allowMismatch"/> is set.
    /// The caller keeps ownership of the encoder.
    /// </summary>
    public void UseEncoder(SentenceEncoder encoder, string model, string? whitening = null, bool allowMismatch = false)
    {
        var given = IndexEncoder.Describe(encoder, model, whitening, Encoder?.QueryPrompt);
        bool applyWhitening = Encoder?.Whitening is not null && whitening is null;
        if (Encoder is { } recorded && recorded.Mismatch(given, ignoreWhitening: applyWhitening) is { } why && !allowMismatch)
            throw new SemblanceException($"{Name}: {why}; use the index's encoder ({recorded}) or allow the mismatch explicitly (--allow-encoder-mismatch)");
        Bind(encoder, owns: false, applyWhitening);
    }

    /// <summary>Whether queries are encoded by <paramref name="encoder"/> (bound with <see cref="UseEncoder"/> or <see cref="Create"/>).</summary>
    public bool Encodes(SentenceEncoder encoder) => ReferenceEquals(_encoder, encoder);

    private SentenceEncoder OpenRecordedEncoder()
    {
        var recorded = Encoder ?? throw new SemblanceException($"{Name} was built from vectors and records no encoder; give a model to encode text queries, or search with vectors");
        var encoder = SentenceEncoder.Load(recorded.Model, new EncoderOptions { Pooling = recorded.Pooling, Normalize = recorded.Normalize, Threads = _options.Threads });
        try
        {
            if (recorded.Whitening is not null) encoder.UseWhitening(recorded.Whitening);
            UseEncoder(encoder, recorded.Model, recorded.Whitening, _options.AllowEncoderMismatch);
            _ownsEncoder = true;
            return encoder;
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
    }

    private void Bind(SentenceEncoder encoder, bool owns, bool applyWhitening)
    {
        Whitening? whitening = null;
        if (applyWhitening)
        {
            var path = Encoder!.Whitening!;
            if (Encoder.WhiteningChecksum is { } expected && File.Exists(path) && IndexEncoder.FileChecksum(path) != expected && !_options.AllowEncoderMismatch)
                throw new SemblanceException($"{path}: the whitening file changed since {Name} was built (checksum differs)");
            whitening = Embeddings.Whitening.Load(path);
            if (whitening.InputDimension != encoder.Backend.Dimension)
                throw new SemblanceException($"{path}: the whitening expects {whitening.InputDimension}-dimensional vectors but the encoder produces {encoder.Backend.Dimension}");
        }
        int dimension = whitening?.OutputDimension ?? encoder.Dimension;
        if (dimension != Vectors.Dimension)
            throw new SemblanceException($"{Name} has dimension {Vectors.Dimension} but the encoder produces {dimension}-dimensional vectors");
        if (_ownsEncoder) _encoder?.Dispose();
        _encoder = encoder;
        _ownsEncoder = owns;
        _whitening = whitening;
        _normalize = Encoder?.Normalize ?? encoder.NormalizeByDefault;
    }

    /// <summary>The text the encoder sees for a query: the recorded query prompt, then the query.</summary>
    public string QueryText(string query) => Encoder?.QueryPrompt is { } prompt ? prompt + query : query;

    /// <summary>
    /// Turns the query encoder's un-normalised output for <paramref name="rows"/> texts into the
    /// vectors the index compares: the recorded whitening when the encoder does not apply it, then normalisation as
    /// recorded. Used by <see cref="EncodeQueries"/> and by callers that batch the encoder themselves (the server).
    /// </summary>
    public float[] FinishEncoded(ReadOnlySpan<float> encoded, int rows)
    {
        _ = QueryEncoder;
        float[] output;
        if (_whitening is not null)
        {
            output = new float[(long)rows * _whitening.OutputDimension];
            _whitening.Apply(encoded, output, rows);
        }
        else output = encoded.ToArray();
        if (_normalize)
            for (int i = 0; i < rows; i++) SentenceEncoder.NormalizeInPlace(output.AsSpan(i * Vectors.Dimension, Vectors.Dimension));
        return output;
    }

    /// <summary>Query vectors [queries.Count, Dimension] as the index compares them.</summary>
    public float[] EncodeQueries(IReadOnlyList<string> queries) => Encode(queries.Select(QueryText).ToArray());

    /// <summary>Document vectors [texts.Count, Dimension] (no query prompt).</summary>
    public float[] EncodeDocuments(IReadOnlyList<string> texts) => Encode(texts);

    /// <summary>The encoder's pooled vectors and its own transform, un-normalised (as the server's batcher produces them), then <see cref="FinishEncoded"/>.</summary>
    private float[] Encode(IReadOnlyList<string> texts)
    {
        var encoder = QueryEncoder;
        int n = texts.Count;
        var pooled = new float[(long)n * encoder.Backend.Dimension];
        if (n > 0) encoder.Backend.Embed(texts, pooled);
        if (encoder.Transform is not { } transform) return FinishEncoded(pooled, n);
        var transformed = new float[(long)n * transform.OutputDimension];
        transform.Apply(pooled, transformed, n);
        return FinishEncoded(transformed, n);
    }

    /// <summary>The k nearest items to one text query, best first.</summary>
    public SearchHit[] Search(string query, int k, SearchOptions? options = null) => Vectors.Search(EncodeQueries([query]), k, options);

    /// <summary>The k nearest items to each text query, best first.</summary>
    public SearchHit[][] SearchBatch(IReadOnlyList<string> queries, int k, SearchOptions? options = null) =>
        queries.Count == 0 ? [] : Vectors.SearchBatch(EncodeQueries(queries), k, options);

    /// <summary>
    /// Encodes and adds texts (stored with the items, with their fields: one JSON object per item or null); without
    /// ids they are numbered by slot.
    /// </summary>
    public void Add(IReadOnlyList<string> texts, IReadOnlyList<string>? ids = null, IReadOnlyList<string?>? fields = null) =>
        Vectors.Add(EncodeDocuments(texts), ids, texts, fields);

    /// <summary>Encodes and adds texts, replacing items whose id is already present.</summary>
    public void Upsert(IReadOnlyList<string> texts, IReadOnlyList<string> ids, IReadOnlyList<string?>? fields = null) =>
        Vectors.Upsert(EncodeDocuments(texts), ids, texts, fields);

    /// <summary>Removes items; returns how many of the ids were present.</summary>
    public int Remove(IEnumerable<string> ids) => Vectors.Remove(ids);

    /// <summary>Commits the index to <paramref name="directory"/> (default: where it was opened from or last saved).</summary>
    public void Save(string? directory = null)
    {
        directory ??= Directory ?? throw new ArgumentException("the index has not been saved before: give a directory", nameof(directory));
        Vectors.Save(directory);
        Directory = directory;
    }

    public void Dispose()
    {
        if (_ownsEncoder) _encoder?.Dispose();
        _encoder = null;
        Vectors.Dispose();
    }
}

/// <summary>The JSON shape of hits shared by `semblance search` and the server's /search.</summary>
internal static class SearchHitJson
{
    /// <summary>Writes <c>"hits": [{"id", "score", "text", "fields"?}, ...]</c> into the current object.</summary>
    public static void WriteHits(System.Text.Json.Utf8JsonWriter w, IEnumerable<SearchHit> hits)
    {
        w.WriteStartArray("hits");
        foreach (var h in hits)
        {
            w.WriteStartObject();
            w.WriteString("id", h.Id);
            w.WriteNumber("score", h.Score);
            if (h.Text is null) w.WriteNull("text"); else w.WriteString("text", h.Text);
            if (h.Fields is not null)
            {
                w.WritePropertyName("fields");
                w.WriteRawValue(h.Fields, skipInputValidation: true);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
