// Inference outputs pinned bit for bit: SHA-256 of the vectors the code produced before the network was rewritten as
// modules with two executions (issue 12), so any later change of a single bit in the inference path shows up here.
using System.Security.Cryptography;
using Semblance.Embeddings;
using Semblance.Numerics;

namespace Semblance.Tests.Models;

/// <summary>
/// Skipped, with the reason, unless ../shared is present and the machine runs the Vector512 tier the hashes were
/// recorded on (the transcendental kernels round differently per SIMD tier, so other tiers give other bits).
/// </summary>
public sealed class RecordedTierTheoryAttribute : TheoryAttribute
{
    public RecordedTierTheoryAttribute()
    {
        if (SharedData.Directory is null) Skip = SharedData.MissingMessage;
        else if (Simd.Current != SimdLevel.Vector512) Skip = $"the hashes were recorded with Vector512 kernels; this machine runs {Simd.Current}";
    }
}

public class InferenceRegressionTests
{
    /// <summary>The first sentence column of the first 150 lines of an STS-B training file.</summary>
    private static List<string> Sentences(string dataset) =>
        File.ReadLines(SharedData.Path("data", dataset, "train.tsv")).Take(150).Select(l => l.Split('\t')[0]).ToList();

    [RecordedTierTheory]
    [InlineData("bert-tiny-uncased", "sts-b-en", "mean", 7, "4caabe7eeb47856cbd7b79693db22bd8b9ce4707abac993b3e15a9ceb0ed3208")]
    [InlineData("bert-tiny-uncased", "sts-b-en", "cls", 7, "dc077d715699c67d7a0d45a2b597fd917c9bb2403e2e99779dcfe194145b83a8")]
    [InlineData("bert-tiny-uncased", "sts-b-en", "pooler", 7, "43337f688f5981d7f3006ed6d269881f2d904e52a7b3749dbde5037901dee2a8")]
    [InlineData("bert-tiny-uncased", "sts-b-en", "max", 7, "a5726b2c1cbd4ade7ffc8115387f852be6cafa75ac1df86c383cc5b37e184f79")]
    [InlineData("bert-tiny-chinese", "sts-b-zh", "first-last-avg", 32, "ca62bf13447542d9f5e72a5229a8ed57997a881dd89739aedac13a39706af12d")]
    [InlineData("bert-tiny-chinese", "sts-b-zh", "pooler", 32, "4d32ba8b85305f9c9177426f54311f9a53d970abb5f07b456d6a507d0d5b41c7")]
    [InlineData("roformer-tiny-chinese", "sts-b-zh", "mean", 16, "e39e5a4457e9199c02986e1fd2ae798c36a2e19d375fb9525a1d512817848002")]
    [InlineData("roformer-tiny-chinese", "sts-b-zh", "first-last-avg", 16, "e6257c9e59a0ed9d34eba70cd9c0409b89255a0b0aab372a3b21b509650f87cd")]
    [InlineData("roformer-tiny-chinese", "sts-b-zh", "cls", 16, "2e251997f7bc0f7105256b02f8825e964a8610190b9926e5f657b49a3845fd55")]
    public void VectorsAreBitIdenticalToTheRecordedOnes(string model, string dataset, string pooling, int batchSize, string sha256)
    {
        using var encoder = SentenceEncoder.Load(SharedData.FixtureModel(model), new EncoderOptions { Pooling = pooling, BatchSize = batchSize, Threads = 2 });
        var vectors = encoder.EncodeFlat(Sentences(dataset));
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(vectors.AsSpan());
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }
}
