// The HTTP API end to end over real Kestrel on loopback: shapes, values against the library, limits and errors.
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text.Json;
using Semblance.Embeddings;
using Semblance.Search;
using Semblance.Server;

namespace Semblance.Tests.Server;

public class EmbeddingServerTests
{
    private static string Model => SharedData.FixtureModel("bert-tiny-uncased");

    private static readonly string[] Sentences = ["the cat sat on the mat", "a dog barked", "stock markets fell sharply today"];

    private static float[] Row(JsonElement array) => array.EnumerateArray().Select(x => x.GetSingle()).ToArray();

    private static float[] Reference(string text, bool normalize)
    {
        using var enc = SentenceEncoder.Load(Model);
        return enc.Encode(text, normalize);
    }

    private static void AssertClose(float[] expected, float[] actual, float tol = 1e-5f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"[{i}] {expected[i]} vs {actual[i]}");
    }

    [SharedFact]
    public async Task OpenAiEmbeddingsMatchTheLibraryInShapeAndValue()
    {
        await using var host = await ServerTestHost.StartAsync(SentenceEncoder.Load(Model));
        var (status, body) = await host.Post("/v1/embeddings", new { input = Sentences, model = "anything" });
        Assert.Equal(200, status);
        Assert.Equal("list", body.GetProperty("object").GetString());
        Assert.Equal("test-model", body.GetProperty("model").GetString());
        var data = body.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(Sentences.Length, data.Count);
        using var enc = SentenceEncoder.Load(Model);
        long tokens = 0;
        var tokenizer = ((TransformerBackend)enc.Backend).Tokenizer;
        for (int i = 0; i < data.Count; i++)
        {
            Assert.Equal("embedding", data[i].GetProperty("object").GetString());
            Assert.Equal(i, data[i].GetProperty("index").GetInt32());
            AssertClose(enc.Encode(Sentences[i]), Row(data[i].GetProperty("embedding")));
            tokens += tokenizer.Encode(Sentences[i], enc.Backend.MaxLength).Length;
        }
        Assert.Equal(tokens, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt64());
        Assert.Equal(tokens, body.GetProperty("usage").GetProperty("total_tokens").GetInt64());
    }

    [SharedFact]
    public async Task Base64IsLittleEndianFloat32AndDimensionsTruncateAndRenormalise()
    {
        await using var host = await ServerTestHost.StartAsync(SentenceEncoder.Load(Model, new EncoderOptions { Normalize = true }));
        var (status, body) = await host.Post("/v1/embeddings", new { input = "hello there", encoding_format = "base64", dimensions = 8 });
        Assert.Equal(200, status);
        var bytes = Convert.FromBase64String(body.GetProperty("data")[0].GetProperty("embedding").GetString()!);
        var v = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        var full = Reference("hello there", normalize: true);
        var expected = full[..8];
        SentenceEncoder.NormalizeInPlace(expected);
        AssertClose(expected, v);
        Assert.Equal(1f, TensorPrimitives.Norm(v), 4);

        var (bad, error) = await host.Post("/v1/embeddings", new { input = "x", dimensions = 33 });
        Assert.Equal(400, bad);
        Assert.Equal("dimensions", error.GetProperty("error").GetProperty("param").GetString());
        Assert.Contains("32", error.GetProperty("error").GetProperty("message").GetString());
    }

    [SharedFact]
    public async Task TeiEmbedNormalisesByDefaultAndRefusesOverLongInputUnlessTruncating()
    {
        await using var host = await ServerTestHost.StartAsync(SentenceEncoder.Load(Model));
        var (status, body) = await host.Post("/embed", new { inputs = "hello there" });
        Assert.Equal(200, status);
        AssertClose(Reference("hello there", normalize: true), Row(body[0]));

        (status, body) = await host.Post("/embed", new { inputs = new[] { "hello there", "b" }, normalize = false });
        Assert.Equal(200, status);
        Assert.Equal(2, body.GetArrayLength());
        AssertClose(Reference("hello there", normalize: false), Row(body[0]));

        var longText = string.Join(' ', Enumerable.Repeat("word", 200));
        (status, body) = await host.Post("/embed", new { inputs = new[] { "ok", longText } });
        Assert.Equal(413, status);
        Assert.Contains("64 tokens", body.GetProperty("error").GetString());
        ServerAssert.TeiError(body, "Validation");
        (status, body) = await host.Post("/embed", new { inputs = longText, truncate = true });
        Assert.Equal(200, status);
        AssertClose(Reference(longText, normalize: true), Row(body[0]));
    }

    [SharedFact]
    public async Task SimilarityAcceptsTeiAndFlatShapes()
    {
        await using var host = await ServerTestHost.StartAsync(SentenceEncoder.Load(Model));
        var a = Reference("a cat", false);
        var expected = Sentences.Select(s => TensorPrimitives.CosineSimilarity(a, Reference(s, false))).ToArray();
        var (s1, nested) = await host.Post("/similarity", new { inputs = new { source_sentence = "a cat", sentences = Sentences } });
        var (s2, flat) = await host.Post("/similarity", new { source_sentence = "a cat", sentences = Sentences });
        Assert.Equal(200, s1);
        Assert.Equal(200, s2);
        AssertClose(expected, Row(nested));
        AssertClose(expected, Row(flat));
        var (s3, err) = await host.Post("/similarity", new { source_sentence = "a cat" });
        Assert.Equal(400, s3);
        Assert.Contains("'sentences'", err.GetProperty("error").GetString());
        Assert.Equal("Validation", err.GetProperty("error_type").GetString());
    }

    [SharedFact]
    public async Task SearchReturnsTheNearestItemsOfTheIndex()
    {
        var enc = SentenceEncoder.Load(Model, new EncoderOptions { Normalize = true });
        var index = SemanticIndex.Create(new FlatIndex(enc.Dimension, Metric.Cosine), enc, Model);
        index.Add(Sentences, ["s0", "s1", "s2"]);
        await using var host = await ServerTestHost.StartAsync(enc, index: index);
        var (status, body) = await host.Post("/search", new { query = "a dog barked", k = 2 });
        Assert.Equal(200, status);
        var hits = body.GetProperty("hits").EnumerateArray().ToList();
        Assert.Equal(2, hits.Count);
        Assert.Equal("s1", hits[0].GetProperty("id").GetString());
        Assert.Equal("a dog barked", hits[0].GetProperty("text").GetString());
        Assert.Equal(1.0, hits[0].GetProperty("score").GetDouble(), 4);
        var (bad, _) = await host.Post("/search", new { query = "x", k = 0 });
        Assert.Equal(400, bad);
    }

    [SharedFact]
    public async Task InfoHealthAndMetricsDescribeTheServer()
    {
        await using var host = await ServerTestHost.StartAsync(SentenceEncoder.Load(Model));
        Assert.Equal(200, (await host.Post("/v1/embeddings", new { input = "one two" })).Status);
        Assert.Equal(400, (await host.Post("/v1/embeddings", "{\"input\": 3}")).Status);
        var info = JsonDocument.Parse(await host.Client.GetStringAsync("/info")).RootElement;
        Assert.Equal(32, info.GetProperty("dimension").GetInt32());
        Assert.Equal(64, info.GetProperty("max_input_length").GetInt32());
        Assert.Equal("bert", info.GetProperty("architecture").GetString());
        Assert.Equal("mean", info.GetProperty("model_type").GetProperty("embedding").GetProperty("pooling").GetString());
        Assert.Equal("test-model", info.GetProperty("model_id").GetString());
        Assert.Equal(2048, info.GetProperty("max_client_batch_size").GetInt32());
        Assert.Equal("ok", JsonDocument.Parse(await host.Client.GetStringAsync("/health")).RootElement.GetProperty("status").GetString());
        using var metrics = await host.Client.GetAsync("/metrics");
        Assert.StartsWith("text/plain", metrics.Content.Headers.ContentType!.ToString());
        var text = await metrics.Content.ReadAsStringAsync();
        Assert.Contains("semblance_http_requests_total{route=\"/v1/embeddings\",status=\"200\"} 1\n", text);
        Assert.Contains("semblance_http_requests_total{route=\"/v1/embeddings\",status=\"400\"} 1\n", text);
        Assert.Contains("semblance_inputs_total 1\n", text);
        Assert.Contains("semblance_tokens_total 4\n", text);
        Assert.Contains("semblance_http_request_duration_seconds_count{route=\"/v1/embeddings\"} 2\n", text);
        Assert.Contains("semblance_queue_depth 0\n", text);
    }

    public static TheoryData<string, string, int, string?> BadRequests() => new()
    {
        { "/v1/embeddings", "{\"input\": ", 400, "invalid_json" },
        { "/v1/embeddings", "[1,2]", 400, "invalid_json" },
        { "/v1/embeddings", "{}", 400, null },
        { "/v1/embeddings", "{\"input\": []}", 400, null },
        { "/v1/embeddings", "{\"input\": [[1, 2, 3]]}", 400, "token_ids_not_supported" },
        { "/v1/embeddings", "{\"input\": [\"a\", 5]}", 400, "token_ids_not_supported" },
        { "/v1/embeddings", "{\"input\": [\"a\", true]}", 400, null },
        { "/v1/embeddings", "{\"input\": \"a\", \"encoding_format\": \"int8\"}", 400, null },
        { "/v1/embeddings", "{\"input\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}", 413, "too_many_inputs" },
        { "/v1/embeddings", "{\"input\": \"" + new string('x', 101) + "\"}", 413, "input_too_long" },
        { "/embed", "{\"inputs\": \"a\", \"normalize\": \"yes\"}", 400, null },
        { "/embed", "{\"input\": \"a\"}", 400, null },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadRequestsGetErrorBodiesInTheRoutesShape(string path, string json, int expectedStatus, string? code)
    {
        await using var host = await ServerTestHost.StartAsync(new GatedBackend(), new EmbeddingServerOptions { MaxInputsPerRequest = 4, MaxCharsPerInput = 100 });
        var (status, body) = await host.Post(path, json);
        Assert.Equal(expectedStatus, status);
        if (!path.StartsWith("/v1/", StringComparison.Ordinal))
        {
            ServerAssert.TeiError(body, "Validation");
            return;
        }
        var error = body.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.True(error.TryGetProperty("param", out _));
        if (code is not null) Assert.Equal(code, error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task OversizedBodyIs413()
    {
        await using var host = await ServerTestHost.StartAsync(new GatedBackend(), new EmbeddingServerOptions { MaxBodyBytes = 2048 });
        var (status, body) = await host.Post("/v1/embeddings", "{\"input\": \"" + new string('x', 4000) + "\"}");
        Assert.Equal(413, status);
        Assert.Equal("request_too_large", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task ConcurrentRequestsShareOneBatch()
    {
        var backend = new GatedBackend();
        await using var host = await ServerTestHost.StartAsync(backend, new EmbeddingServerOptions { MaxBatchWait = TimeSpan.Zero });
        backend.Hold();
        var first = host.Post("/v1/embeddings", new { input = "first" });
        Assert.True(await backend.Entered.WaitAsync(TimeSpan.FromSeconds(10)));
        var rest = Enumerable.Range(0, 6).Select(i => host.Post("/v1/embeddings", new { input = new[] { $"text {i}", "x y z" } })).ToList();
        await WaitFor(() => ServerQueue(host) == 12);
        backend.Release();
        Assert.Equal(200, (await first).Status);
        var results = await Task.WhenAll(rest);
        Assert.Equal([1, 12], backend.Calls);
        for (int i = 0; i < results.Length; i++)
        {
            Assert.Equal(200, results[i].Status);
            var data = results[i].Body.GetProperty("data");
            // Each request gets its own rows back: [chars, words, 1, position in the shared batch].
            Assert.Equal($"text {i}".Length, data[0].GetProperty("embedding")[0].GetSingle());
            Assert.Equal(3f, data[1].GetProperty("embedding")[1].GetSingle());
            Assert.Equal((2 + 2) + (3 + 2), results[i].Body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        }
        var positions = results.SelectMany(r => r.Body.GetProperty("data").EnumerateArray().Select(d => d.GetProperty("embedding")[3].GetSingle())).Order();
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (float)i), positions);
    }

    [Fact]
    public async Task FullQueueGets429WithRetryAfter()
    {
        var backend = new GatedBackend();
        await using var host = await ServerTestHost.StartAsync(backend, new EmbeddingServerOptions { QueueCapacity = 4, MaxInputsPerRequest = 4, MaxBatchWait = TimeSpan.Zero });
        backend.Hold();
        var running = host.Post("/v1/embeddings", new { input = "a" });
        Assert.True(await backend.Entered.WaitAsync(TimeSpan.FromSeconds(10)));
        var queued = host.Post("/v1/embeddings", new { input = new[] { "a", "b", "c" } });
        await WaitFor(() => ServerQueue(host) == 3);
        using var refused = await host.PostJson("/v1/embeddings", "{\"input\": [\"d\", \"e\"]}");
        Assert.Equal(429, (int)refused.StatusCode);
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("queue_full", error.GetProperty("code").GetString());
        Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
        backend.Release();
        Assert.Equal(200, (await running).Status);
        Assert.Equal(200, (await queued).Status);
        Assert.Equal(200, (await host.Post("/v1/embeddings", new { input = new[] { "d", "e" } })).Status);
    }

    [Fact]
    public async Task StopDrainsInFlightRequests()
    {
        var backend = new GatedBackend();
        var host = await ServerTestHost.StartAsync(backend, new EmbeddingServerOptions { MaxBatchWait = TimeSpan.Zero });
        try
        {
            backend.Hold();
            var inFlight = host.Post("/v1/embeddings", new { input = "still answered" });
            Assert.True(await backend.Entered.WaitAsync(TimeSpan.FromSeconds(10)));
            var stopping = host.Server.StopAsync();
            await Task.Delay(50);
            Assert.False(stopping.IsCompleted);
            backend.Release();
            var (status, body) = await inFlight;
            Assert.Equal(200, status);
            Assert.Equal("still answered".Length, body.GetProperty("data")[0].GetProperty("embedding")[0].GetSingle());
            await stopping.WaitAsync(TimeSpan.FromSeconds(10));
            await Assert.ThrowsAsync<HttpRequestException>(() => host.Client.GetAsync("/health"));
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    private static int ServerQueue(ServerTestHost host)
    {
        var text = host.Client.GetStringAsync("/metrics").GetAwaiter().GetResult();
        var line = text.Split('\n').Single(l => l.StartsWith("semblance_queue_depth ", StringComparison.Ordinal));
        return int.Parse(line["semblance_queue_depth ".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        for (int i = 0; i < 1000 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition(), "condition not reached within 10 s");
    }
}
