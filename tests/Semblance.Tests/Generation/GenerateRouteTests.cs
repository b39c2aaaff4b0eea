// POST /v1/generate-similar: the library's candidates in the CLI's shape, with the server's limits.
using Semblance.Generation;
using Semblance.Tests.CrossEncoders;
using Semblance.Tests.Models;

namespace Semblance.Tests.Generation;

public class GenerateRouteTests
{
    [SharedFact]
    public async Task GenerateSimilarAnswersWithTheLibrarysCandidatesAndItsLimits()
    {
        using var temp = new TempDir();
        var dir = HeadFixtures.ModelDirectory("bert-tiny-mlm", temp);
        var encoder = Semblance.Embeddings.SentenceEncoder.Load(SharedData.FixtureModel("bert-tiny-uncased"));
        var server = Semblance.Server.EmbeddingServer.Create(encoder, new Semblance.Server.EmbeddingServerOptions { Urls = ["http://127.0.0.1:0"], MaxInputsPerRequest = 4 });
        await using var host = await Semblance.Tests.Server.ServerTestHost.StartAsync(server);

        var (status, body) = await host.Post("/v1/generate-similar", new { input = "a cat" });
        Assert.Equal(404, status);
        Assert.Equal("no_generator", body.GetProperty("error").GetProperty("code").GetString());

        server.Generator = MaskedLanguageModel.Load(dir, threads: 1);
        using var reference = MaskedLanguageModel.Load(dir, threads: 1);
        string[] input = ["How do I open a bank account?", "A man is playing a guitar on stage."];
        (status, body) = await host.Post("/v1/generate-similar", new { input, n = 3, seed = 4, top_k = 20, max_new_tokens = 8 });
        Assert.Equal(200, status);
        var expected = reference.Generate(input, new DecodingOptions { Candidates = 3, Seed = 4, TopK = 20, MaxNewTokens = 8 });
        var data = body.GetProperty("data");
        Assert.Equal(2, data.GetArrayLength());
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(i, data[i].GetProperty("index").GetInt32());
            Assert.Equal(input[i], data[i].GetProperty("source").GetString());
            var got = data[i].GetProperty("candidates").EnumerateArray().Select(c => string.Join(',', c.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()))).ToArray();
            Assert.Equal(expected[i].Candidates.Select(c => string.Join(',', c.Ids)), got);
        }

        (status, body) = await host.Post("/v1/generate-similar", new { input = "a cat", n = 2, num_beams = 3, rank = true, max_new_tokens = 6 });
        Assert.Equal(200, status);
        Assert.All(body.GetProperty("data")[0].GetProperty("candidates").EnumerateArray(), c => Assert.True(c.TryGetProperty("similarity", out _)));
        (status, body) = await host.Post("/v1/generate-similar", new { input = "a cat", greedy = true });
        Assert.Equal(200, status);
        Assert.Equal(reference.GenerateGreedy("a cat").Ids, body.GetProperty("data")[0].GetProperty("candidates")[0].GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()));

        foreach (var bad in new object[] { new { input = "a", n = 0 }, new { input = "a", n = 65 }, new { input = "a", top_p = 0.0 }, new { input = "a", top_p = 1.5 },
                     new { input = "a", n = 3, num_beams = 2 }, new { input = "a", max_new_tokens = 1000 } })
        {
            (status, body) = await host.Post("/v1/generate-similar", bad);
            Assert.Equal(400, status);
            Assert.False(string.IsNullOrEmpty(body.GetProperty("error").GetProperty("message").GetString()));
        }
        (status, _) = await host.Post("/v1/generate-similar", new { input = new[] { "a", "b", "c", "d", "e" } });
        Assert.Equal(413, status);
        (status, _) = await host.Post("/v1/generate-similar", new { n = 2 });
        Assert.Equal(400, status);
        Assert.Equal(3, server.Metrics.RequestCount("/v1/generate-similar", 200));
        Assert.Equal(1, server.Metrics.RequestCount("/v1/generate-similar", 413));
    }
}
