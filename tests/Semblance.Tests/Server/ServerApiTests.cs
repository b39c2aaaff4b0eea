// The routes OpenAI and text-embeddings-inference clients call: the official OpenAI .NET client against /v1, TEI's
// documented request/response shapes for /embed, /embed_all, /tokenize, /similarity and /info, the OpenAPI document.
using System.ClientModel;
using System.Text.Json;
using OpenAI;
using OpenAI.Embeddings;
using OpenAI.Models;
using Semblance.Embeddings;
using Semblance.Embeddings.Default;
using Semblance.Server;
using Semblance.Tests.Embeddings;
using Semblance.Tests.Models;

namespace Semblance.Tests.Server;

internal static class ServerAssert
{
    /// <summary>TEI's error body: exactly {"error": non-empty string, "error_type": expected}.</summary>
    public static void TeiError(JsonElement body, string errorType)
    {
        Assert.Equal(JsonValueKind.String, body.GetProperty("error").ValueKind);
        Assert.False(string.IsNullOrWhiteSpace(body.GetProperty("error").GetString()));
        Assert.Equal(errorType, body.GetProperty("error_type").GetString());
        Assert.Equal(2, body.EnumerateObject().Count());
    }

    /// <summary>OpenAI's error body: {"error": {"message", "type", "param", "code"}}.</summary>
    public static JsonElement OpenAiError(JsonElement body, string type)
    {
        var error = body.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.True(error.TryGetProperty("param", out _));
        Assert.True(error.TryGetProperty("code", out _));
        return error;
    }
}

public class ServerApiTests
{
    private static string Model => SharedData.FixtureModel("bert-tiny-uncased");

    private static OpenAIClientOptions ClientOptions(ServerTestHost host) => new() { Endpoint = new Uri(host.Server.Addresses[0] + "/v1") };

    [Fact]
    public async Task TheOfficialOpenAiClientEmbedsListsModelsAndSeesErrors()
    {
        await using var host = await ServerTestHost.StartAsync(new GatedBackend());
        var client = new EmbeddingClient("test-model", new ApiKeyCredential("unused"), ClientOptions(host));
        // The client asks for base64 by default; the vectors must come back as the backend made them.
        var result = await client.GenerateEmbeddingsAsync(["one two three", "four"]);
        Assert.Equal(2, result.Value.Count);
        Assert.Equal([13f, 3f, 1f, 0f], result.Value[0].ToFloats().ToArray());
        Assert.Equal(1, result.Value[1].Index);
        Assert.Equal(4f, result.Value[1].ToFloats().Span[0]);
        Assert.Equal("test-model", result.Value.Model);

        var single = await client.GenerateEmbeddingAsync("abc", new EmbeddingGenerationOptions { Dimensions = 2 });
        Assert.Equal([3f, 1f], single.Value.ToFloats().ToArray());

        var refused = await Assert.ThrowsAsync<ClientResultException>(() => client.GenerateEmbeddingAsync("abc", new EmbeddingGenerationOptions { Dimensions = 9 }));
        Assert.Equal(400, refused.Status);
        Assert.Contains("dimensions", refused.Message);

        var models = new OpenAIModelClient(new ApiKeyCredential("unused"), ClientOptions(host));
        var list = await models.GetModelsAsync();
        Assert.Equal("test-model", Assert.Single(list.Value).Id);
        Assert.Equal("semblance", list.Value[0].OwnedBy);
        Assert.Equal("test-model", (await models.GetModelAsync("test-model")).Value.Id);
        var missing = await Assert.ThrowsAsync<ClientResultException>(() => models.GetModelAsync("gpt-4"));
        Assert.Equal(404, missing.Status);
    }

    [SharedFact]
    public async Task TeiDocumentedExamplesWork()
    {
        await using var host = await ServerTestHost.StartAsync(SentenceEncoder.Load(Model, new EncoderOptions { Pooling = "mean" }));
        using var reference = SentenceEncoder.Load(Model, new EncoderOptions { Pooling = "mean" });
        var tokenizer = ((TransformerBackend)reference.Backend).Tokenizer;

        // POST /embed {"inputs": "What is Deep Learning?"} → [[floats]], unit length by default.
        var (s1, embed) = await host.Post("/embed", "{\"inputs\":\"What is Deep Learning?\"}");
        Assert.Equal(200, s1);
        var v = embed.EnumerateArray().Single().EnumerateArray().Select(x => x.GetSingle()).ToArray();
        Assert.Equal(reference.Encode("What is Deep Learning?", normalize: true), v, new FloatTolerance(1e-5f));

        // POST /embed_all → [[[floats per token]]]; mean-pooling them gives /embed's raw vector.
        var (s2, all) = await host.Post("/embed_all", "{\"inputs\":\"What is Deep Learning?\"}");
        Assert.Equal(200, s2);
        var tokens = all.EnumerateArray().Single().EnumerateArray().Select(t => t.EnumerateArray().Select(x => x.GetSingle()).ToArray()).ToList();
        Assert.Equal(tokenizer.Encode("What is Deep Learning?", 0).Length, tokens.Count);
        var mean = Enumerable.Range(0, reference.Dimension).Select(j => tokens.Average(t => t[j])).Select(x => (float)x).ToArray();
        Assert.Equal(reference.Encode("What is Deep Learning?", normalize: false), mean, new FloatTolerance(1e-4f));

        // POST /tokenize {"inputs": "test"} → [[{"id", "text", "special", "start", "stop"}]].
        var (s3, tok) = await host.Post("/tokenize", "{\"inputs\":\"test\"}");
        Assert.Equal(200, s3);
        var expected = tokenizer.Encode("test", 0);
        var got = tok.EnumerateArray().Single().EnumerateArray().ToList();
        Assert.Equal(expected.Length, got.Count);
        for (int i = 0; i < got.Count; i++)
        {
            Assert.Equal(expected.Ids[i], got[i].GetProperty("id").GetInt32());
            Assert.Equal(expected.Tokens[i], got[i].GetProperty("text").GetString());
            Assert.Equal(i == 0 || i == got.Count - 1, got[i].GetProperty("special").GetBoolean());
            Assert.Equal(JsonValueKind.Null, got[i].GetProperty("start").ValueKind);
        }
        var (_, plain) = await host.Post("/tokenize", "{\"inputs\":[\"test\", \"a b\"],\"add_special_tokens\":false}");
        Assert.Equal(2, plain.GetArrayLength());
        Assert.Equal(expected.Length - 2, plain[0].GetArrayLength());
        Assert.All(plain[1].EnumerateArray(), t => Assert.False(t.GetProperty("special").GetBoolean()));

        // POST /similarity {"inputs": {"source_sentence", "sentences"}} → [floats].
        var (s4, sim) = await host.Post("/similarity", "{\"inputs\":{\"source_sentence\":\"What is Deep Learning?\",\"sentences\":[\"What is Machine Learning?\",\"What is Deep Learning?\"]}}");
        Assert.Equal(200, s4);
        Assert.Equal(2, sim.GetArrayLength());
        Assert.Equal(1.0, sim[1].GetDouble(), 4);

        // Errors on TEI routes: {"error", "error_type"}.
        var (s5, err) = await host.Post("/embed", "{\"inputs\": 5}");
        Assert.Equal(400, s5);
        ServerAssert.TeiError(err, "Validation");
        var (s6, tooLong) = await host.Post("/embed_all", "{\"inputs\": \"" + string.Join(" ", Enumerable.Repeat("word", 200)) + "\"}");
        Assert.Equal(413, s6);
        ServerAssert.TeiError(tooLong, "Validation");
    }

    [Fact]
    public async Task InfoHasTeisShapeAndTokenRoutesRefuseModelsWithoutTokens()
    {
        using var dir = new TempDir();
        await using var host = await StartDefaultEncoder(dir, 1);
        var info = JsonDocument.Parse(await host.Client.GetStringAsync("/info")).RootElement;
        foreach (var field in new[] { "model_id", "model_sha", "model_dtype", "model_type", "max_concurrent_requests", "max_input_length", "max_batch_tokens",
                     "max_batch_requests", "max_client_batch_size", "auto_truncate", "tokenization_workers", "version", "sha", "docker_label" })
            Assert.True(info.TryGetProperty(field, out _), field);
        Assert.Equal("lsa", info.GetProperty("model_type").GetProperty("embedding").GetProperty("pooling").GetString());
        Assert.Equal("cosine", info.GetProperty("similarity").GetString());
        Assert.Equal(64, info.GetProperty("dimension").GetInt32());
        foreach (var route in new[] { "/tokenize", "/embed_all" })
        {
            var (status, body) = await host.Post(route, "{\"inputs\": \"hello\"}");
            Assert.Equal(400, status);
            ServerAssert.TeiError(body, "Validation");
        }
    }

    [Fact]
    public async Task TextsTheDefaultEncoderDoesNotKnowAreAnsweredOnEveryRoute()
    {
        using var dir = new TempDir();
        await using var host = await StartDefaultEncoder(dir, 2);
        var (s1, embed) = await host.Post("/embed", "{\"inputs\": [\"zzzz qqqq\", \"\", \"§§§\"]}");
        Assert.Equal(200, s1);
        foreach (var row in embed.EnumerateArray())
            Assert.Equal(1.0, Math.Sqrt(row.EnumerateArray().Sum(x => x.GetDouble() * x.GetDouble())), 4);
        var (s2, sim) = await host.Post("/similarity", "{\"source_sentence\": \"zzzz qqqq\", \"sentences\": [\"zzzz qqqq\", \"reset my password\"]}");
        Assert.Equal(200, s2);
        Assert.Equal(1.0, sim[0].GetDouble(), 4);
        var (s3, _) = await host.Post("/v1/embeddings", "{\"input\": \"zzzz qqqq\"}");
        Assert.Equal(200, s3);
    }

    [Fact]
    public async Task OpenApiDocumentAndDocsPageListEveryRoute()
    {
        await using var host = await ServerTestHost.StartAsync(new GatedBackend());
        var doc = JsonDocument.Parse(await host.Client.GetStringAsync("/openapi.json")).RootElement;
        Assert.StartsWith("3.", doc.GetProperty("openapi").GetString());
        var paths = doc.GetProperty("paths");
        string[] routes = ["/v1/embeddings", "/v1/models", "/embed", "/embed_all", "/similarity", "/tokenize", "/search", "/info", "/health", "/metrics"];
        foreach (var route in routes) Assert.True(paths.TryGetProperty(route, out _), route);
        // Every route the server maps is documented (the fallback and the two documentation routes aside).
        foreach (var route in host.Server.RoutePatterns.Where(r => r is not ("/openapi.json" or "/docs") && !r.Contains('*')))
            Assert.True(paths.TryGetProperty(route, out _), $"/openapi.json lacks {route}");
        var html = await host.Client.GetStringAsync("/docs");
        Assert.Contains("/openapi.json", html);
        foreach (var route in routes.Where(r => r != "/metrics")) Assert.Contains(route, html);
        // Every documented GET answers 200 (the served model, not a 404).
        foreach (var route in new[] { "/v1/models", "/v1/models/test-model", "/info", "/health", "/metrics" })
        {
            using var response = await host.Client.GetAsync(route);
            Assert.Equal(200, (int)response.StatusCode);
        }
        using var unknown = await host.Client.GetAsync("/nowhere");
        Assert.Equal(404, (int)unknown.StatusCode);
        ServerAssert.TeiError(JsonDocument.Parse(await unknown.Content.ReadAsStringAsync()).RootElement, "Validation");
        using var wrongMethod = await host.Client.GetAsync("/embed");
        Assert.Equal(405, (int)wrongMethod.StatusCode);
        ServerAssert.TeiError(JsonDocument.Parse(await wrongMethod.Content.ReadAsStringAsync()).RootElement, "Validation");
        using var wrongMethodV1 = await host.Client.GetAsync("/v1/embeddings");
        Assert.Equal(405, (int)wrongMethodV1.StatusCode);
        ServerAssert.OpenAiError(JsonDocument.Parse(await wrongMethodV1.Content.ReadAsStringAsync()).RootElement, "invalid_request_error");
        using var unknownV1 = await host.Client.GetAsync("/v1/nowhere");
        Assert.Equal(404, (int)unknownV1.StatusCode);
        ServerAssert.OpenAiError(JsonDocument.Parse(await unknownV1.Content.ReadAsStringAsync()).RootElement, "invalid_request_error");
    }

    /// <summary>A server over a small default encoder (64 dims) fitted in <paramref name="dir"/>.</summary>
    private static Task<ServerTestHost> StartDefaultEncoder(TempDir dir, int seed)
    {
        var model = dir.Sub("default");
        DefaultEncoder.Fit(DefaultEncoderTests.Corpus(80, seed), model, new DefaultEncoderOptions { Dimension = 64, LsaDimension = 8 });
        return ServerTestHost.StartAsync(SentenceEncoder.Load(model));
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }
}
