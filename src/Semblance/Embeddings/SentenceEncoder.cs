// The one entry point for turning text into embeddings: backend → optional transform (whitening) → optional L2 norm.
using System.Numerics.Tensors;

namespace Semblance.Embeddings;

/// <summary>
/// Loads any supported model directory and encodes text. Typical use:
/// <code>using var enc = SentenceEncoder.Load("models/my-model"); float[] v = enc.Encode(["hello", "world"]);</code>
/// </summary>
public sealed class SentenceEncoder : IDisposable
{
    private IVectorTransform? _transform;

    public SentenceEncoder(IEmbeddingBackend backend, bool normalize)
    {
        Backend = backend;
        Normalize = normalize;
    }

    public static SentenceEncoder Load(string modelDirectory, EncoderOptions? options = null)
    {
        options ??= new EncoderOptions();
        var backend = BackendRegistry.Open(modelDirectory, options);
        return new SentenceEncoder(backend, options.Normalize ?? backend.NormalizeByDefault) { AllowNonFinite = options.AllowNonFinite };
    }

    /// <summary>Whether <see cref="UseWhitening"/> accepts a file holding NaN/±Inf (see <see cref="EncoderOptions.AllowNonFinite"/>).</summary>
    public bool AllowNonFinite { get; init; }

    public IEmbeddingBackend Backend { get; }

    public bool Normalize { get; set; }

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

    /// <summary>Loads a whitening file (from `semblance whiten fit`) and applies it; a dimension mismatch names the file.</summary>
    public void UseWhitening(string path)
    {
        var whitening = Whitening.Load(path, AllowNonFinite);
        if (whitening.InputDimension != Backend.Dimension)
            throw new SemblanceException($"{path}: the whitening expects {whitening.InputDimension}-dimensional vectors but the encoder produces {Backend.Dimension}");
        Transform = whitening;
    }

    public int Dimension => _transform?.OutputDimension ?? Backend.Dimension;

    /// <summary>Non-padding tokens processed so far.</summary>
    public long TokensProcessed { get; private set; }

    /// <summary>Encodes texts into a [texts.Count, Dimension] row-major array, in input order.</summary>
    public float[] Encode(IReadOnlyList<string> texts, CancellationToken cancellationToken = default)
    {
        var output = new float[(long)texts.Count * Dimension];
        EncodeInto(texts, output, cancellationToken);
        return output;
    }

    public float[] Encode(string text) => Encode([text]);

    /// <summary>
    /// Encodes into <paramref name="output"/>. A vector that comes out NaN or ±Inf (damaged weights loaded with
    /// <see cref="EncoderOptions.AllowNonFinite"/>, or an overflow) is an error naming the item (counted from 1).
    /// </summary>
    public void EncodeInto(IReadOnlyList<string> texts, Span<float> output, CancellationToken cancellationToken = default) =>
        EncodeInto(texts, output, 0, cancellationToken);

    private void EncodeInto(IReadOnlyList<string> texts, Span<float> output, long firstItem, CancellationToken cancellationToken)
    {
        int n = texts.Count;
        if (output.Length != (long)n * Dimension) throw new ArgumentException($"output has {output.Length} floats, expected {n}x{Dimension}");
        if (n == 0) return;
        if (_transform is null)
        {
            TokensProcessed += Backend.Embed(texts, output, cancellationToken);
        }
        else
        {
            var raw = new float[(long)n * Backend.Dimension];
            TokensProcessed += Backend.Embed(texts, raw, cancellationToken);
            _transform.Apply(raw, output, n);
        }
        if (Normalize)
        {
            int d = Dimension;
            for (int i = 0; i < n; i++) NormalizeInPlace(output.Slice(i * d, d));
        }
        long bad = Numerics.Kernels.IndexOfNonFinite(output);
        if (bad >= 0)
        {
            long item = bad / Dimension;
            throw new SemblanceException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"input item {firstItem + item + 1}: the embedding has {output[(int)bad]} at dimension {bad % Dimension}; the model's weights are not finite or overflow on this text (nothing is written for it)"));
        }
    }

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
            EncodeInto(chunk, vectors.Span, done, cancellationToken);
            var result = new EncodedChunk(done, chunk.ToArray(), vectors, Dimension);
            done += chunk.Count;
            chunk.Clear();
            progress?.Report(done);
            return result;
        }
    }

    public static void NormalizeInPlace(Span<float> v)
    {
        float norm = TensorPrimitives.Norm(v);
        if (norm > 0) TensorPrimitives.Divide(v, norm, v);
    }

    public void Dispose() => Backend.Dispose();
}

/// <summary>Vectors of texts [Start, Start + Texts.Length) of a stream.</summary>
public sealed record EncodedChunk(long Start, string[] Texts, ReadOnlyMemory<float> Vectors, int Dimension)
{
    public int Count => Texts.Length;

    public ReadOnlySpan<float> Vector(int i) => Vectors.Span.Slice(i * Dimension, Dimension);
}
