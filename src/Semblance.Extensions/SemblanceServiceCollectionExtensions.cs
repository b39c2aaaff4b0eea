// services.AddSemblance(...): registers a SentenceEncoder and its IEmbeddingGenerator as singletons.
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Semblance.Embeddings;

namespace Semblance.Extensions;

/// <summary>Dependency-injection registration for Semblance encoders.</summary>
public static class SemblanceServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="SentenceEncoder"/> loaded (on first use) from <paramref name="model"/> — a directory or
    /// a cached Hugging Face ORG/NAME[@REVISION] — and a singleton <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> over it.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="model">Model directory or hub id.</param>
    /// <param name="options">Encoder options (pooling, normalisation, max length, batch size, threads).</param>
    public static IServiceCollection AddSemblance(this IServiceCollection services, string model, EncoderOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        return services.AddSemblance(_ => SentenceEncoder.Load(model, options), model);
    }

    /// <summary>Registers the encoder built by <paramref name="factory"/> and an embedding generator over it (both singletons).</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="factory">Builds the encoder on first use; the container disposes it.</param>
    /// <param name="modelId">Model id reported by the generator.</param>
    public static IServiceCollection AddSemblance(this IServiceCollection services, Func<IServiceProvider, SentenceEncoder> factory, string? modelId = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(factory);
        services.AddSingleton(factory);
        services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(sp =>
            new SemblanceEmbeddingGenerator(sp.GetRequiredService<SentenceEncoder>(), modelId, ownsEncoder: false));
        return services;
    }
}
