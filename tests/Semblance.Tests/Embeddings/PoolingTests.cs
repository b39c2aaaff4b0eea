// Pooling modes: names, sentence-transformers configs, and each formula on hand-computed token vectors.
using Semblance.Embeddings;
using Semblance.Models;

namespace Semblance.Tests.Embeddings;

public sealed class PoolingTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "semblance-pooling-" + Guid.NewGuid().ToString("N"));

    public PoolingTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Hidden states given directly: layer 1 and the last layer, [TokenCount, 2].</summary>
    private sealed class FixedOutput(float[] first, float[] last, float[] pooler) : ITransformerOutput
    {
        public int HiddenSize => 2;

        public ReadOnlySpan<float> HiddenState(int layer) => layer switch
        {
            1 => first,
            2 => last,
            _ => throw new InvalidOperationException("not kept"),
        };

        public ReadOnlySpan<float> LastHiddenState => last;

        public ReadOnlySpan<float> PoolerOutput => pooler;
    }

    // Sequence 0: tokens (1, 2), (3, -4). Sequence 1: (0, 1), (6, -1), (3, 9).
    private static readonly TokenBatch Batch = TokenBatch.FromSequences([[101, 5], [101, 6, 102]]);
    private static readonly float[] Last = [1, 2, 3, -4, 0, 1, 6, -1, 3, 9];
    private static readonly float[] First = [5, 0, 1, 0, 3, 3, 0, 0, 0, 3];

    private static float[] Pool(PoolingMode mode, float[]? pooler = null)
    {
        var destination = new float[4];
        Pooling.Pool(new FixedOutput(First, Last, pooler ?? []), Batch, mode, destination);
        return destination;
    }

    [Fact]
    public void EachModeFollowsItsFormula()
    {
        Assert.Equal([1f, 2f, 0f, 1f], Pool(PoolingMode.Cls));
        Assert.Equal([2f, -1f, 3f, 3f], Pool(PoolingMode.Mean));
        Assert.Equal(Pool(PoolingMode.Mean), Pool(PoolingMode.LastAvg));
        // Σ(first + last)/2/T: sequence 0 → ((5+1+1+3)/2/2, (0+2+0-4)/2/2); sequence 1 → (12/6, 15/6).
        Assert.Equal([2.5f, -0.5f, 2f, 2.5f], Pool(PoolingMode.FirstLastAvg));
        Assert.Equal([3f, 2f, 6f, 9f], Pool(PoolingMode.Max));
        Assert.Equal([0.1f, 0.2f, 0.3f, 0.4f], Pool(PoolingMode.Pooler, [0.1f, 0.2f, 0.3f, 0.4f]));
    }

    [Fact]
    public void PoolerModeWithoutPoolerIsAUserError()
    {
        var ex = Assert.Throws<SemblanceException>(() => Pool(PoolingMode.Pooler));
        Assert.Contains("pooler", ex.Message);
        Assert.Contains("cls, mean", ex.Message);
    }

    [Fact]
    public void DestinationMustHoldEverySequence() =>
        Assert.Throws<ArgumentException>(() => Pooling.Pool(new FixedOutput(First, Last, []), Batch, PoolingMode.Mean, new float[3]));

    [Fact]
    public void RequestKeepsWhatTheModeNeeds()
    {
        Assert.Equal(new ForwardRequest(FirstLayer: true), Pooling.RequestFor(PoolingMode.FirstLastAvg));
        Assert.Equal(new ForwardRequest(Pooler: true), Pooling.RequestFor(PoolingMode.Pooler));
        foreach (var mode in new[] { PoolingMode.Cls, PoolingMode.Mean, PoolingMode.LastAvg, PoolingMode.Max })
            Assert.Equal(ForwardRequest.LastOnly, Pooling.RequestFor(mode));
    }

    [Fact]
    public void CliNamesRoundTrip()
    {
        Assert.Equal("cls|mean|first-last-avg|last-avg|max|pooler|pooler-linear", Pooling.CliNames);
        foreach (var mode in Enum.GetValues<PoolingMode>()) Assert.Equal(mode, Pooling.Parse(Pooling.Format(mode)));
        Assert.Equal(PoolingMode.FirstLastAvg, Pooling.Parse("First-Last-Avg"));
        var ex = Assert.Throws<SemblanceException>(() => Pooling.Parse("avg", "--pooling"));
        Assert.Contains("--pooling", ex.Message);
        Assert.Contains("'avg'", ex.Message);
        Assert.Contains(Pooling.CliNames, ex.Message);
    }

    private string StConfig(string json)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, json);
        return path;
    }

    private static string Flags(bool cls = false, bool mean = false, bool max = false, bool sqrt = false, bool weighted = false, bool lastToken = false) =>
        $$"""
        {"word_embedding_dimension": 32, "pooling_mode_cls_token": {{J(cls)}}, "pooling_mode_mean_tokens": {{J(mean)}},
         "pooling_mode_max_tokens": {{J(max)}}, "pooling_mode_mean_sqrt_len_tokens": {{J(sqrt)}},
         "pooling_mode_weightedmean_tokens": {{J(weighted)}}, "pooling_mode_lasttoken": {{J(lastToken)}}, "include_prompt": true}
        """;

    private static string J(bool b) => b ? "true" : "false";

    [Fact]
    public void SentenceTransformersConfigSelectsTheMode()
    {
        Assert.Equal(PoolingMode.Cls, Pooling.LoadSentenceTransformersConfig(StConfig(Flags(cls: true)), 32));
        Assert.Equal(PoolingMode.Mean, Pooling.LoadSentenceTransformersConfig(StConfig(Flags(mean: true)), 32));
        Assert.Equal(PoolingMode.Max, Pooling.LoadSentenceTransformersConfig(StConfig(Flags(max: true))));
        Assert.Equal(PoolingMode.Mean, Pooling.LoadSentenceTransformersConfig(StConfig("{\"pooling_mode_mean_tokens\": true}")));
    }

    [Theory]
    [InlineData("sqrt", "pooling_mode_mean_sqrt_len_tokens is not supported")]
    [InlineData("weighted", "pooling_mode_weightedmean_tokens is not supported")]
    [InlineData("lasttoken", "pooling_mode_lasttoken is not supported")]
    [InlineData("two", "concatenated pooling is not supported")]
    [InlineData("none", "no pooling mode is set")]
    [InlineData("dimension", "word_embedding_dimension is 32, but the model's hidden_size is 48")]
    [InlineData("malformed", "malformed JSON")]
    [InlineData("type", "pooling_mode_cls_token must be true or false")]
    public void SentenceTransformersConfigErrors(string kind, string message)
    {
        var path = StConfig(kind switch
        {
            "sqrt" => Flags(mean: true, sqrt: true),
            "weighted" => Flags(weighted: true),
            "lasttoken" => Flags(lastToken: true),
            "two" => Flags(cls: true, mean: true),
            "none" => Flags(),
            "dimension" => Flags(mean: true),
            "malformed" => "{\"pooling_mode_cls_token\": tru",
            _ => "{\"pooling_mode_cls_token\": \"yes\"}",
        });
        var ex = Assert.Throws<ModelFormatException>(() => Pooling.LoadSentenceTransformersConfig(path, 48));
        Assert.Contains(path, ex.Message);
        Assert.Contains(message, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void MissingSentenceTransformersConfig()
    {
        var path = Path.Combine(_dir, "1_Pooling", "config.json");
        var ex = Assert.Throws<ModelFormatException>(() => Pooling.LoadSentenceTransformersConfig(path));
        Assert.Contains(path, ex.Message);
    }
}
