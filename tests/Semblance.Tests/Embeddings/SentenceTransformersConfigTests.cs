// SentenceTransformersConfig.Write and Read are inverse; TransformerConfig.ToJson and Parse likewise.
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Tests.Models;

namespace Semblance.Tests.Embeddings;

public class SentenceTransformersConfigTests
{
    [Theory]
    [InlineData(PoolingMode.Cls, true, 256)]
    [InlineData(PoolingMode.Mean, false, 0)]
    [InlineData(PoolingMode.Max, true, 0)]
    [InlineData(PoolingMode.LastAvg, false, 128)]
    public void WriteThenRead_GivesTheSameModules(PoolingMode pooling, bool normalize, int maxSeq)
    {
        using var dir = new TempDir();
        SentenceTransformersConfig.Write(dir.Path, pooling, normalize, maxSeq, 48);
        var read = SentenceTransformersConfig.Read(dir.Path);
        Assert.Equal((normalize, maxSeq), (read.Normalize, read.MaxSeqLength));
        var expected = pooling == PoolingMode.LastAvg ? PoolingMode.Mean : pooling;
        Assert.Equal(expected, Pooling.LoadSentenceTransformersConfig(read.PoolingConfigPath!, 48));
    }

    [Fact]
    public void OnlyMaxSeqLength_AndModesWithoutAModule()
    {
        using var dir = new TempDir();
        SentenceTransformersConfig.Write(dir.Path, null, false, 64, 48);
        Assert.Equal(SentenceTransformersConfig.None with { MaxSeqLength = 64 }, SentenceTransformersConfig.Read(dir.Path));
        Assert.Contains("no sentence-transformers Pooling module", Assert.Throws<SemblanceException>(() => SentenceTransformersConfig.Write(dir.Path, PoolingMode.Pooler, false, 0, 48)).Message);
        Assert.Contains("needs a pooling mode", Assert.Throws<SemblanceException>(() => SentenceTransformersConfig.Write(dir.Path, null, true, 0, 48)).Message);
    }

    [Fact]
    public void TransformerConfigToJson_ParsesBackEqual()
    {
        var config = new TransformerConfig
        {
            VocabSize = 99, HiddenSize = 24, NumHiddenLayers = 3, NumAttentionHeads = 2, IntermediateSize = 40, HiddenAct = "gelu_new",
            MaxPositionEmbeddings = 40, TypeVocabSize = 1, LayerNormEps = 1e-5, PadTokenId = null, Architectures = ["BertModel"],
        };
        var json = config.ToJson();
        var back = TransformerConfig.Parse(json, "config.json");
        Assert.Equal(json, back.ToJson());
        Assert.Equal((99, 24, 3, 2, 40, "gelu_new", 40, 1, 1e-5, (int?)null), (back.VocabSize, back.HiddenSize, back.NumHiddenLayers,
            back.NumAttentionHeads, back.IntermediateSize, back.HiddenAct, back.MaxPositionEmbeddings, back.TypeVocabSize, back.LayerNormEps, back.PadTokenId));
    }
}
