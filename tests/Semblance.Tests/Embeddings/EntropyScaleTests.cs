// The entropy-invariant attention scale (encode --attention-scale entropy --train-length N).
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Tests.Cli;
using Semblance.Tests.Models;

namespace Semblance.Tests.Embeddings;

public class EntropyScaleTests
{
    [Fact]
    public void FactorIsLogNOverLogTrainLengthAboveTheTrainLengthOnly()
    {
        Assert.Equal(1f, ForwardRequest.EntropyFactor(64, 128));
        Assert.Equal(1f, ForwardRequest.EntropyFactor(128, 128));
        Assert.Equal((float)(Math.Log(512) / Math.Log(128)), ForwardRequest.EntropyFactor(512, 128));
        Assert.Equal(1f, ForwardRequest.EntropyFactor(512, 0));
    }

    [SharedFact]
    public void ShortInputsAreUnchangedAndLongOnesAreScaledTheSameInAnyBatch()
    {
        var model = SharedData.FixtureModel("bert-tiny-uncased");
        string shortText = "a short sentence", longText = string.Join(" ", Enumerable.Repeat("the cat sat on the mat", 6));
        using var plain = SentenceEncoder.Load(model, new EncoderOptions { Pooling = "mean" });
        using var entropy = SentenceEncoder.Load(model, new EncoderOptions { Pooling = "mean", EntropyScaleTrainLength = 16 });
        Assert.Equal(plain.Encode(shortText), entropy.Encode(shortText));
        Assert.NotEqual(plain.Encode(longText), entropy.Encode(longText));

        // The long text (n > 16 tokens) in a mixed batch through ForwardRequest.EntropyTrainLength: the same vector, and the
        // short text beside it untouched (the factor is per sequence, log n / log 16 for n > 16, else 1).
        int n = plain.Backend.Tokenizer!.Encode(longText, 512).Ids.Length;
        Assert.True(n > 16);
        using var direct = TransformerLoader.Load(model);
        var ids = new[] { plain.Backend.Tokenizer!.Encode(longText, 512).Ids, plain.Backend.Tokenizer!.Encode(shortText, 512).Ids };
        var batch = TokenBatch.FromSequences(ids);
        using var ws = direct.CreateWorkspace();
        var output = direct.Forward(batch, ForwardRequest.LastOnly with { EntropyTrainLength = 16 }, ws, Semblance.Numerics.ComputeContext.Single);
        var pooled = new float[2 * direct.HiddenSize];
        Pooling.Pool(output, batch, PoolingMode.Mean, pooled);
        Assert.True(Compare.MaxAbs(pooled.AsSpan(0, direct.HiddenSize), entropy.Encode(longText)) < 1e-5f);
        Assert.True(Compare.MaxAbs(pooled.AsSpan(direct.HiddenSize), plain.Encode(shortText)) < 1e-5f);
    }

    [SharedFact]
    public void CliOptionsGoTogether()
    {
        var model = SharedData.FixtureModel("bert-tiny-uncased");
        var r = CliAppTests.Run("encode", "--model", model, "--attention-scale", "entropy");
        Assert.Equal(2, r.Code);
        Assert.Contains("--attention-scale entropy and --train-length N go together", r.Err);
    }
}
