// A SentenceEncoder behind Microsoft.Extensions.AI's IEmbeddingGenerator, so .NET AI code can use local embeddings unchanged.
using Microsoft.Extensions.AI;
using Semblance.Embeddings;

namespace Semblance.Extensions;

/// <summary>
/// <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> over a <see cref="SentenceEncoder"/>. Calls are serialised (the
/// encoder already uses every core) and run off the caller's thread. <see cref="EmbeddingGenerationOptions.Dimensions"/>
/// keeps the leading components (renormalised when the encoder normalises), which is exact truncation for
/// Matryoshka-trained models and keeps the strongest components after whitening.
/// </summary>
public sealed class SemblanceEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly SentenceEncoder _encoder;
    private readonly bool _ownsEncoder;
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Wraps <paramref name="encoder"/>; it is disposed with this generator only when <paramref name="ownsEncoder"/>.</summary>
    /// <param name="encoder">The encoder to run.</param>
    /// <param name="modelId">Reported as <see cref="Embedding.ModelId"/> and in the metadata (default "semblance").</param>
    /// <param name="ownsEncoder">Dispose the encoder with this generator.</param>
    public SemblanceEmbeddingGenerator(SentenceEncoder encoder, string? modelId = null, bool ownsEncoder = false)
    {
        _encoder = encoder;
        _ownsEncoder = ownsEncoder;
        Metadata = new EmbeddingGeneratorMetadata("semblance", null, modelId ?? "semblance", encoder.Dimension);
    }

    /// <summary>Loads <paramref name="model"/> (a directory or a cached Hugging Face ORG/NAME[@REVISION]) into a generator that owns it.</summary>
    public static SemblanceEmbeddingGenerator Load(string model, EncoderOptions? options = null) =>
        new(SentenceEncoder.Load(model, options), model, ownsEncoder: true);

    /// <summary>Provider "semblance", the model id and the output dimension.</summary>
    public EmbeddingGeneratorMetadata Metadata { get; }

    /// <summary>The encoder behind this generator.</summary>
    public SentenceEncoder Encoder => _encoder;

    /// <inheritdoc/>
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var texts = values as IReadOnlyList<string> ?? values.ToList();
        int full = _encoder.Dimension;
        int dims = options?.Dimensions ?? full;
        if (dims < 1 || dims > full)
            throw new SemblanceException($"EmbeddingGenerationOptions.Dimensions is {dims}; this model produces {full}-dimensional embeddings (expected 1 to {full})");
        float[] vectors;
        long tokens;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            (vectors, tokens) = await Task.Run(() =>
            {
                long before = _encoder.TokensProcessed;
                var v = _encoder.EncodeFlat(texts, null, cancellationToken);
                return (v, _encoder.TokensProcessed - before);
            }, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
        var created = DateTimeOffset.UtcNow;
        var result = new GeneratedEmbeddings<Embedding<float>>(texts.Count)
        {
            Usage = new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens },
        };
        for (int i = 0; i < texts.Count; i++)
        {
            var row = vectors.AsMemory(i * full, dims);
            if (dims < full && _encoder.NormalizeByDefault)
            {
                var copy = row.ToArray();
                SentenceEncoder.NormalizeInPlace(copy);
                row = copy;
            }
            result.Add(new Embedding<float>(row) { ModelId = Metadata.DefaultModelId, CreatedAt = created });
        }
        return result;
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata)) return Metadata;
        if (serviceType == typeof(SentenceEncoder)) return _encoder;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _gate.Dispose();
        if (_ownsEncoder) _encoder.Dispose();
    }
}
