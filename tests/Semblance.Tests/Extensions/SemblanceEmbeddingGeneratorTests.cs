// The Microsoft.Extensions.AI adapter and services.AddSemblance: same vectors as the encoder, dimensions, DI lifetime.
using System.Numerics.Tensors;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Semblance.Embeddings;
using Semblance.Extensions;
using Semblance.Tests.Server;

namespace Semblance.Tests.Extensions;

public class SemblanceEmbeddingGeneratorTests
{
    [SharedFact]
    public async Task DependencyInjectionGivesAGeneratorMatchingTheEncoder()
    {
        var model = SharedData.FixtureModel("bert-tiny-uncased");
        var services = new ServiceCollection().AddSemblance(model, new EncoderOptions { Normalize = true });
        float[] expected;
        using (var enc = SentenceEncoder.Load(model, new EncoderOptions { Normalize = true })) expected = enc.EncodeFlat(["first text", "second"]);
        await using (var provider = services.BuildServiceProvider())
        {
            var generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
            var result = await generator.GenerateAsync(["first text", "second"]);
            Assert.Equal(2, result.Count);
            Assert.Equal(expected[..32], result[0].Vector.ToArray());
            Assert.Equal(expected[32..], result[1].Vector.ToArray());
            Assert.Equal(model, result[0].ModelId);
            Assert.Equal(4 + 3, result.Usage!.InputTokenCount);
            var meta = generator.GetService<EmbeddingGeneratorMetadata>()!;
            Assert.Equal(("semblance", 32), (meta.ProviderName, meta.DefaultModelDimensions));
            Assert.Same(provider.GetRequiredService<SentenceEncoder>(), generator.GetService<SentenceEncoder>());

            var single = await generator.GenerateVectorAsync("first text", new EmbeddingGenerationOptions { Dimensions = 8 });
            Assert.Equal(8, single.Length);
            Assert.Equal(1f, TensorPrimitives.Norm(single.Span), 5);
        }
    }

    [Fact]
    public async Task DimensionsKeepLeadingComponentsAndRejectTooMany()
    {
        var backend = new GatedBackend();
        using var generator = new SemblanceEmbeddingGenerator(new SentenceEncoder(backend, normalize: false), "gated", ownsEncoder: true);
        var result = await generator.GenerateAsync(["a b c", "de"], new EmbeddingGenerationOptions { Dimensions = 2 });
        Assert.Equal([5f, 3f], result[0].Vector.ToArray());
        Assert.Equal([2f, 1f], result[1].Vector.ToArray());
        Assert.Equal(5 + 3, result.Usage!.TotalTokenCount);
        var e = await Assert.ThrowsAsync<SemblanceException>(() => generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 5 }));
        Assert.Contains("4-dimensional", e.Message);
    }
}
