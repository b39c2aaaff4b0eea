// The similarity helpers against hand-computed values, and the model's declared similarity_fn_name.
using Semblance.Embeddings;

namespace Semblance.Tests.Embeddings;

public class SimilarityFunctionTests
{
    private static readonly float[][] A = [[3, 4], [1, 0]];
    private static readonly float[][] B = [[0, 2], [-1, 0], [3, 4]];

    [Fact]
    public void MatrixScoresEveryPairWithEachFunction()
    {
        var cos = SimilarityFunctions.Matrix(SimilarityFunction.Cosine, A, B);
        Assert.Equal(2, cos.Length);
        Assert.Equal(3, cos[0].Length);
        Assert.Equal(0.8f, cos[0][0], 5);
        Assert.Equal(-0.6f, cos[0][1], 5);
        Assert.Equal(1f, cos[0][2], 5);
        Assert.Equal(0f, cos[1][0], 5);
        var dot = SimilarityFunctions.Matrix(SimilarityFunction.Dot, A, B);
        Assert.Equal(8f, dot[0][0]);
        Assert.Equal(25f, dot[0][2]);
        var euclid = SimilarityFunctions.Matrix(SimilarityFunction.Euclidean, A, B);
        Assert.Equal(-MathF.Sqrt(13), euclid[0][0], 5);
        Assert.Equal(0f, euclid[0][2]);
        var manhattan = SimilarityFunctions.Matrix(SimilarityFunction.Manhattan, A, B);
        Assert.Equal(-5f, manhattan[0][0]);
        Assert.Equal(-2f, manhattan[1][1]);
    }

    [Fact]
    public void PairwiseScoresTheIthOfEachAndNeedsEqualLengths()
    {
        var p = SimilarityFunctions.Pairwise(SimilarityFunction.Dot, A, B[..2]);
        Assert.Equal([8f, -1f], p);
        Assert.Throws<ArgumentException>(() => SimilarityFunctions.Pairwise(SimilarityFunction.Dot, A, B));
        Assert.Equal(0f, SimilarityFunctions.Score(SimilarityFunction.Cosine, [0, 0], [1, 1]));
    }

    [Theory]
    [InlineData(null, SimilarityFunction.Cosine)]
    [InlineData("{}", SimilarityFunction.Cosine)]
    [InlineData("{\"similarity_fn_name\": null}", SimilarityFunction.Cosine)]
    [InlineData("{\"similarity_fn_name\": \"dot\"}", SimilarityFunction.Dot)]
    [InlineData("{\"similarity_fn_name\": \"euclidean\"}", SimilarityFunction.Euclidean)]
    [InlineData("{\"similarity_fn_name\": \"manhattan\"}", SimilarityFunction.Manhattan)]
    public void TheModelDeclaresItsSimilarity(string? config, SimilarityFunction expected)
    {
        var dir = Directory.CreateTempSubdirectory("semblance-simfn-");
        try
        {
            if (config is not null) File.WriteAllText(Path.Combine(dir.FullName, "config_sentence_transformers.json"), config);
            Assert.Equal(expected, SentenceTransformersConfig.ReadSimilarityFunction(dir.FullName));
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void AnUnknownSimilarityNameIsAModelFormatError()
    {
        var dir = Directory.CreateTempSubdirectory("semblance-simfn-");
        try
        {
            var path = Path.Combine(dir.FullName, "config_sentence_transformers.json");
            File.WriteAllText(path, "{\"similarity_fn_name\": \"jaccard\"}");
            var e = Assert.Throws<ModelFormatException>(() => SentenceTransformersConfig.ReadSimilarityFunction(dir.FullName));
            Assert.Contains("jaccard", e.Message);
            Assert.Contains(path, e.Message);
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
