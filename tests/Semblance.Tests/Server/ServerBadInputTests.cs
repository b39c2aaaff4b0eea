// The server under malformed bodies and failing handlers: every case is a 4xx (or a JSON 500 for a bug) in the route's
// error shape, and the server keeps answering afterwards.
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Semblance.Embeddings;
using Semblance.Server;

namespace Semblance.Tests.Server;

public class ServerBadInputTests
{
    private static readonly string[] Routes = ["/v1/embeddings", "/embed", "/similarity", "/tokenize", "/embed_all", "/search"];

    private static byte[] Bytes(params object[] parts)
    {
        var list = new List<byte>();
        foreach (var p in parts) list.AddRange(p is string s ? Encoding.UTF8.GetBytes(s) : (byte[])p);
        return [.. list];
    }

    /// <summary>A body with the route's text field ("input" for OpenAI, "inputs" for TEI, "query" for /search).</summary>
    private static byte[] Body(string route, params object[] value)
    {
        string field = route switch { "/v1/embeddings" => "input", "/search" => "query", "/similarity" => "source_sentence", _ => "inputs" };
        return Bytes(["{\"" + field + "\":", .. value, "}"]);
    }

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var route in Routes)
            foreach (var c in new[] { "truncated-utf8", "overlong-utf8", "cesu8", "above-10ffff", "lone-surrogate-value", "lone-surrogate-key", "raw-nul",
                         "deep-nesting", "wrong-type", "huge-array", "no-content-type", "text-plain", "latin1-charset", "empty", "not-an-object" })
                data.Add(route, c);
        return data;
    }

    private static (byte[] Body, string? ContentType, int Status) Case(string route, string name) => name switch
    {
        "truncated-utf8" => (Body(route, "\"a", new byte[] { 0xE2, 0x82 }, "\""), "application/json", 400),
        "overlong-utf8" => (Body(route, "\"", new byte[] { 0xC0, 0xAF }, "\""), "application/json", 400),
        "cesu8" => (Body(route, "\"", new byte[] { 0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80 }, "\""), "application/json", 400),
        "above-10ffff" => (Body(route, "\"", new byte[] { 0xF4, 0x90, 0x80, 0x80 }, "\""), "application/json", 400),
        "lone-surrogate-value" => (Body(route, "\"x\\ud800y\""), "application/json", 400),
        "lone-surrogate-key" => (Bytes("{\"\\udc00\": 1, ", Body(route, "\"a\"")[1..]), "application/json", 400),
        "raw-nul" => (Body(route, "\"a", new byte[] { 0 }, "b\""), "application/json", 400),
        "deep-nesting" => (Body(route, new string('[', 200), new string(']', 200)), "application/json", 400),
        // A well-formed /search body reaches the handler, which has no index here: 404.
        "wrong-type" => (Body(route, "{\"a\": 1}"), "application/json", route == "/search" ? 404 : 400),
        "huge-array" => (Body(route, "[", string.Join(",", Enumerable.Repeat("\"a\"", 100_000)), "]"), "application/json", route switch { "/search" => 404, "/similarity" => 400, _ => 413 }),
        "no-content-type" => (Body(route, "\"a\""), null, 415),
        "text-plain" => (Body(route, "\"a\""), "text/plain", 415),
        "latin1-charset" => (Body(route, "\"caf", new byte[] { 0xE9 }, "\""), "application/json; charset=iso-8859-1", 415),
        "empty" => ([], "application/json", 400),
        "not-an-object" => (Bytes("[\"a\"]"), "application/json", 400),
        _ => throw new ArgumentException(name),
    };

    private static void AssertErrorShape(string route, int status, string text)
    {
        var body = JsonDocument.Parse(text).RootElement;
        if (route.StartsWith("/v1/", StringComparison.Ordinal))
            ServerAssert.OpenAiError(body, status >= 500 ? "server_error" : status == 429 ? "rate_limit_error" : "invalid_request_error");
        else
            ServerAssert.TeiError(body, status >= 500 ? "Backend" : status == 429 ? "Overloaded" : "Validation");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task MalformedBodiesGet4xxInTheRoutesErrorShape(string route, string name)
    {
        await using var host = await ServerTestHost.StartAsync(new GatedBackend());
        var (body, contentType, expected) = Case(route, name);
        var content = new ByteArrayContent(body);
        if (contentType is not null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var response = await host.Client.PostAsync(route, content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == (int)response.StatusCode, $"{route} {name}: {(int)response.StatusCode} {text}");
        AssertErrorShape(route, expected, text);
        // The server still answers.
        var (status, _) = await host.Post("/embed", "{\"inputs\": \"still here\"}");
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task AnEscapedNulIsACharacterNotAnError()
    {
        await using var host = await ServerTestHost.StartAsync(new GatedBackend());
        var (status, body) = await host.Post("/embed", "{\"inputs\": \"a\\u0000b\", \"normalize\": false}");
        Assert.Equal(200, status);
        Assert.Equal(3f, body[0][0].GetSingle());
    }

    [Theory]
    [InlineData("/v1/embeddings", "{\"input\": \"boom\"}", 500)]
    [InlineData("/embed", "{\"inputs\": \"boom\"}", 500)]
    [InlineData("/similarity", "{\"source_sentence\": \"a\", \"sentences\": [\"boom\"]}", 500)]
    [InlineData("/v1/embeddings", "{\"input\": \"refuse\"}", 422)]
    [InlineData("/embed", "{\"inputs\": \"refuse\"}", 422)]
    [InlineData("/embed", "{\"inputs\": \"nan\"}", 422)] // the encoder refuses a non-finite vector, naming the item
    public async Task AnExceptionInsideAHandlerIsAJsonErrorAndTheServerKeepsRunning(string route, string json, int expected)
    {
        await using var host = await ServerTestHost.StartAsync(new FailingBackend());
        for (int round = 0; round < 3; round++)
        {
            using var response = await host.PostJson(route, json);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(expected == (int)response.StatusCode, text);
            Assert.False(string.IsNullOrEmpty(text));
            AssertErrorShape(route, expected, text);
            var (status, _) = await host.Post(route, json.Replace("boom", "fine").Replace("refuse", "fine").Replace("nan", "fine"));
            Assert.Equal(200, status);
        }
    }

    [Fact]
    public async Task ASlowBodyIsCutOffWith408()
    {
        await using var host = await ServerTestHost.StartAsync(new GatedBackend(), new EmbeddingServerOptions { BodyGracePeriod = TimeSpan.FromSeconds(1.5) });
        var uri = new Uri(host.Server.Addresses[0]);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(uri.Host, uri.Port);
        var stream = tcp.GetStream();
        var head = "POST /v1/embeddings HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"input\":";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        // Then nothing more: the server must give up on the body and answer, not wait forever.
        stream.ReadTimeout = 30_000;
        var reply = new StringBuilder();
        var buffer = new byte[4096];
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, guard.Token)) > 0)
            {
                reply.Append(Encoding.UTF8.GetString(buffer, 0, n));
                if (reply.ToString().Contains("\r\n\r\n") && reply.ToString().TrimEnd().EndsWith('}')) break;
            }
        }
        catch (IOException)
        {
        }
        var text = reply.ToString();
        Assert.StartsWith("HTTP/1.1 408", text);
        AssertErrorShape("/v1/embeddings", 408, text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
    }

    /// <summary>Embed throws a bug-like exception for "boom", a Semblance error for "refuse", and writes NaN for "nan".</summary>
    private sealed class FailingBackend : IEmbeddingBackend
    {
        public string ModelType => "failing-test";
        public int Dimension => 2;
        public string Pooling => "mean";
        public bool NormalizeByDefault => false;
        public int MaxLength => 0;

        public long Embed(IReadOnlyList<string> texts, Span<float> output, CancellationToken cancellationToken = default)
        {
            if (texts.Contains("boom")) throw new InvalidOperationException("a bug inside the backend");
            if (texts.Contains("refuse")) throw new SemblanceException("this input cannot be embedded");
            for (int i = 0; i < texts.Count; i++)
            {
                output[2 * i] = texts[i] == "nan" ? float.NaN : 1;
                output[2 * i + 1] = 0;
            }
            return texts.Count;
        }

        public IReadOnlyList<KeyValuePair<string, string>> Describe() => [];

        public void Dispose() { }
    }
}
