// Test helpers for the HTTP server: a real Kestrel on 127.0.0.1 (free port), and a backend whose Embed can be held.
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Semblance.Embeddings;
using Semblance.Search;
using Semblance.Server;
using Semblance.Text;

namespace Semblance.Tests.Server;

internal sealed class ServerTestHost : IAsyncDisposable
{
    private ServerTestHost(EmbeddingServer server)
    {
        Server = server;
        Client = new HttpClient { BaseAddress = new Uri(server.Addresses[0]), Timeout = TimeSpan.FromSeconds(30) };
    }

    public EmbeddingServer Server { get; }

    public HttpClient Client { get; }

    public static EmbeddingServerOptions Loopback(EmbeddingServerOptions? options = null) =>
        (options ?? new EmbeddingServerOptions()) with { Urls = ["http://127.0.0.1:0"], ModelName = "test-model" };

    public static async Task<ServerTestHost> StartAsync(SentenceEncoder encoder, EmbeddingServerOptions? options = null, SemanticIndex? index = null)
    {
        var server = EmbeddingServer.Create(encoder, Loopback(options), index);
        await server.StartAsync();
        return new ServerTestHost(server);
    }

    /// <summary>Starts a server built elsewhere (e.g. by the serve command) that listens on a free loopback port.</summary>
    public static async Task<ServerTestHost> StartAsync(EmbeddingServer server)
    {
        await server.StartAsync();
        return new ServerTestHost(server);
    }

    public static async Task<ServerTestHost> StartAsync(IEmbeddingBackend backend, EmbeddingServerOptions? options = null)
    {
        var server = EmbeddingServer.Create(new SentenceEncoder(backend, normalize: false), Loopback(options),
            new TokenCounter(new WhitespaceTokenizer(), 0));
        await server.StartAsync();
        return new ServerTestHost(server);
    }

    public Task<HttpResponseMessage> PostJson(string path, string json) =>
        Client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    public async Task<(int Status, JsonElement Body)> Post(string path, string json)
    {
        using var response = await PostJson(path, json);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    public async Task<(int Status, JsonElement Body)> Post(string path, object body)
    {
        using var response = await Client.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
    }
}

/// <summary>Words split on spaces; enough to give the batcher token counts without a model.</summary>
internal sealed class WhitespaceTokenizer : ITokenizer
{
    public int VocabSize => 1;

    public int PadId => 0;

    public IReadOnlyList<string> Tokenize(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    public TokenizedText Encode(string text, int maxLength)
    {
        var pieces = Tokenize(text).ToArray();
        return new TokenizedText(new int[pieces.Length + 2], ["[CLS]", .. pieces, "[SEP]"], new int[pieces.Length + 2]);
    }
}

/// <summary>
/// A 4-dimensional backend ([characters, words, 1, index-in-call]) that records each Embed call's size and, while
/// <see cref="Hold"/> is set, blocks inside Embed until released, so tests can fill the queue deterministically.
/// </summary>
internal sealed class GatedBackend : IEmbeddingBackend
{
    private readonly ManualResetEventSlim _open = new(true);
    private readonly Lock _gate = new();
    private readonly List<int> _calls = [];

    public SemaphoreSlim Entered { get; } = new(0);

    public void Hold() => _open.Reset();

    public void Release() => _open.Set();

    public IReadOnlyList<int> Calls
    {
        get
        {
            lock (_gate) return [.. _calls];
        }
    }

    public string ModelType => "gated-test";
    public int Dimension => 4;
    public string Pooling => "mean";
    public bool NormalizeByDefault => false;
    public int MaxLength => 0;

    public long Embed(IReadOnlyList<string> texts, Span<float> output, CancellationToken cancellationToken = default)
    {
        lock (_gate) _calls.Add(texts.Count);
        Entered.Release();
        if (!_open.Wait(TimeSpan.FromSeconds(20))) throw new TimeoutException("test backend was never released");
        long tokens = 0;
        for (int i = 0; i < texts.Count; i++)
        {
            int words = texts[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
            output[i * 4] = texts[i].Length;
            output[i * 4 + 1] = words;
            output[i * 4 + 2] = 1;
            output[i * 4 + 3] = i;
            tokens += words + 2;
        }
        return tokens;
    }

    public IReadOnlyList<KeyValuePair<string, string>> Describe() => [];

    public void Dispose() => _open.Dispose();
}
