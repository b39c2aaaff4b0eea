// config.json of the GRU encoder: what it accepts, what it writes, and the one-line error for each bad field.
using Semblance.Models;

namespace Semblance.Tests.Models;

public class GruConfigTests
{
    private const string Valid = "\"model_type\": \"semblance-gru\", \"vocab_size\": 100, \"embedding_size\": 16, \"hidden_size\": 8";

    [Fact]
    public void ParsesWithDefaultsAndWritesWhatItReads()
    {
        var config = GruConfig.Parse("{" + Valid + "}", "gru.json");
        Assert.Equal((100, 16, 8, 512, 16), (config.VocabSize, config.EmbeddingSize, config.HiddenSize, config.MaxLength, config.Dimension));
        var again = GruConfig.Parse(config.ToJson(), "again.json");
        Assert.Equal((100, 16, 8, 512), (again.VocabSize, again.EmbeddingSize, again.HiddenSize, again.MaxLength));
        Assert.Equal(64, GruConfig.Parse("{" + Valid + ", \"bidirectional\": true, \"pooling\": \"mean\", \"max_length\": 64}", "g").MaxLength);
    }

    [Fact]
    public void TheGruAmSoftmaxPostsEncoderIsOneDirectionAndItsLastState()
    {
        var config = GruConfig.Parse("{" + Valid + ", \"bidirectional\": false, \"pooling\": \"last\"}", "gru.json");
        Assert.Equal((false, GruPooling.Last, 1, 8), (config.Bidirectional, config.Pooling, config.Directions, config.Dimension));
        var again = GruConfig.Parse(config.ToJson(), "again.json");
        Assert.Equal((false, GruPooling.Last, 8), (again.Bidirectional, again.Pooling, again.Dimension));
        Assert.Contains("forward only, last-state pooling", config.Describe());
        var defaults = GruConfig.Parse("{" + Valid + "}", "gru.json");
        Assert.Equal((true, GruPooling.Mean), (defaults.Bidirectional, defaults.Pooling));
    }

    [Theory]
    [InlineData("{\"model_type\": \"semblance-gru\", \"embedding_size\": 16, \"hidden_size\": 8}", "gru.json: vocab_size is missing; expected a positive integer")]
    [InlineData("{" + Valid + ", \"max_length\": 0}", "gru.json: max_length must be a positive integer, got 0")]
    [InlineData("{" + Valid + ", \"max_length\": 1}", "gru.json: max_length must be at least 2")]
    [InlineData("{\"model_type\": \"semblance-gru\", \"vocab_size\": 100, \"embedding_size\": \"16\", \"hidden_size\": 8}", "gru.json: embedding_size must be a positive integer, got \"16\"")]
    [InlineData("{\"model_type\": \"semblance-gru\", \"vocab_size\": 100, \"embedding_size\": 16, \"hidden_size\": -3}", "gru.json: hidden_size must be a positive integer, got -3")]
    [InlineData("{\"model_type\": \"semblance-gru\", \"vocab_size\": 1.5, \"embedding_size\": 16, \"hidden_size\": 8}", "gru.json: vocab_size must be a positive integer, got 1.5")]
    [InlineData("{" + Valid + ", \"bidirectional\": 0}", "gru.json: bidirectional must be true or false, got 0")]
    [InlineData("{" + Valid + ", \"pooling\": \"max\"}", "gru.json: pooling must be \"mean\" (the mean of the states over the real tokens) or \"last\"")]
    [InlineData("{" + Valid + ", \"hiden_size\": 8}", "gru.json: unknown field 'hiden_size'; a semblance-gru config has model_type, vocab_size")]
    [InlineData("{\"model_type\": \"bert\", \"vocab_size\": 100, \"embedding_size\": 16, \"hidden_size\": 8}", "gru.json: model_type must be \"semblance-gru\", got \"bert\"")]
    [InlineData("[1, 2]", "gru.json: expected a JSON object")]
    [InlineData("{\"model_type\": ", "gru.json: malformed JSON")]
    public void BadFieldIsAOneLineErrorNamingFileAndField(string json, string message)
    {
        var e = Assert.Throws<ModelFormatException>(() => GruConfig.Parse(json, "gru.json"));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void MissingFileNamesThePath()
    {
        var e = Assert.Throws<ModelFormatException>(() => GruConfig.Load("/nonexistent/gru.json"));
        Assert.StartsWith("/nonexistent/gru.json: file not found", e.Message);
    }
}
