// The HTTP API over a SentenceEncoder: Kestrel + minimal APIs, all encoding funnelled through one dynamic batcher.
using System.Buffers;
using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Semblance.Embeddings;
using Semblance.Search;

namespace Semblance.Server;

/// <summary>
/// Serves an encoder over HTTP: <c>POST /v1/embeddings</c> and <c>GET /v1/models</c> (OpenAI), <c>POST /embed</c>,
/// <c>/embed_all</c>, <c>/similarity</c>, <c>/tokenize</c> and <c>GET /info</c> (text-embeddings-inference),
/// <c>POST /search</c> (with an index), <c>GET /health</c>, <c>/metrics</c>, <c>/openapi.json</c> and <c>/docs</c>.
/// Errors are JSON in the route's family's shape (OpenAI's under /v1, TEI's elsewhere); no request gets an empty 5xx.
/// The server owns the encoder and index it is given and disposes them.
/// </summary>
public sealed partial class EmbeddingServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly SentenceEncoder _encoder;
    private readonly SemanticIndex? _index;
    private readonly EmbeddingServerOptions _options;
    private readonly EmbeddingBatcher _batcher;
    private readonly ServerMetrics _metrics;
    private readonly TokenCounter _counter;
    private readonly bool _normalizeByDefault;
    private readonly SemaphoreSlim _searchGate = new(1, 1);
    private bool _stopped;

    private EmbeddingServer(SentenceEncoder encoder, SemanticIndex? index, EmbeddingServerOptions options, Action<ILoggingBuilder>? logging, TokenCounter? counter,
        Action<WebApplicationBuilder>? configureHost = null)
    {
        options.Validate();
        // /search encodes queries through the batcher, so the index must encode queries with this very encoder.
        if (index is not null && !index.Encodes(encoder))
            throw new SemblanceException($"{index.Directory ?? "the index"}: call UseEncoder with the served encoder before serving the index, so queries are checked against the index's encoder");
        _encoder = encoder;
        _index = index;
        _options = options;
        // Normalisation is applied per request (TEI's "normalize" may switch it off); the batcher encodes un-normalised.
        _normalizeByDefault = encoder.NormalizeByDefault;
        _counter = counter ?? new TokenCounter(encoder.Backend);
        _metrics = new ServerMetrics(() => _batcher?.QueueDepth ?? 0);
        _batcher = new EmbeddingBatcher(encoder, options, _metrics);
        _rerankRoute = new BoundedRoute(options.QueueCapacity);
        _generateRoute = new BoundedRoute(options.QueueCapacity);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (logging is not null) logging(builder.Logging);
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.ShutdownTimeout);
        builder.WebHost.UseKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            // A body that trickles in slower than this is cut off with 408 (slow-body clients cannot hold a connection).
            k.Limits.MinRequestBodyDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(options.MinBodyBytesPerSecond, options.BodyGracePeriod);
            k.AddServerHeader = false;
        });
        builder.WebHost.UseUrls([.. options.Urls]);
        configureHost?.Invoke(builder);
        _app = builder.Build();
        _app.UseRouting();
        _app.Use(Observe);
        _app.MapPost("/v1/embeddings", OpenAiEmbeddings);
        MapRerankRoute();
        MapGenerateRoute();
        MapApiRoutes();
        _app.MapPost("/embed", TeiEmbed);
        _app.MapPost("/similarity", Similarity);
        _app.MapPost("/search", SearchIndex);
        _app.MapGet("/health", ctx => WriteJson(ctx, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("status", "ok");
            w.WriteEndObject();
        }));
        _app.MapGet("/metrics", ctx =>
        {
            ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            return ctx.Response.WriteAsync(_metrics.Render(), ctx.RequestAborted);
        });
    }

    /// <summary>
    /// Builds a server for <paramref name="encoder"/> (and <paramref name="index"/> for /search, bound to the encoder with <see cref="SemanticIndex.UseEncoder"/>);
    /// call <see cref="StartAsync"/>. <paramref name="logging"/> adds log providers (none by default); null
    /// <paramref name="options"/> means the defaults.
    /// </summary>
    public static EmbeddingServer Create(SentenceEncoder encoder, EmbeddingServerOptions? options = null, SemanticIndex? index = null, Action<ILoggingBuilder>? logging = null) =>
        new(encoder, index, options ?? new EmbeddingServerOptions(), logging, null);

    /// <summary>For backends that are not transformers but can still be counted in tokens (tests).</summary>
    internal static EmbeddingServer Create(SentenceEncoder encoder, EmbeddingServerOptions options, TokenCounter counter, SemanticIndex? index = null) =>
        new(encoder, index, options, null, counter);

    /// <summary>
    /// For in-process harnesses (the HTTP fuzz target): <paramref name="configureHost"/> may replace the server, e.g. with
    /// ASP.NET's TestServer, so requests run the whole pipeline without a socket.
    /// </summary>
    internal static EmbeddingServer Create(SentenceEncoder encoder, EmbeddingServerOptions options, SemanticIndex? index, Action<WebApplicationBuilder> configureHost) =>
        new(encoder, index, options, null, null, configureHost);

    /// <summary>The host's services (e.g. the TestServer of an in-process harness).</summary>
    internal IServiceProvider Services => _app.Services;

    /// <summary>The bound addresses, with real port numbers, once started.</summary>
    public IReadOnlyList<string> Addresses => [.. _app.Urls];

    /// <summary>Triggered when shutdown begins (Ctrl-C, SIGTERM or <see cref="StopAsync"/>).</summary>
    public CancellationToken Stopping => _app.Lifetime.ApplicationStopping;

    /// <summary>Binds the listeners and starts serving.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) => _app.StartAsync(cancellationToken);

    /// <summary>Completes once shutdown is requested (Ctrl-C / SIGTERM) and in-flight requests have drained.</summary>
    public async Task WaitForShutdownAsync(CancellationToken cancellationToken = default)
    {
        await _app.WaitForShutdownAsync(cancellationToken);
        FinishBatcher();
    }

    /// <summary>Stops accepting connections, lets in-flight requests finish (up to the shutdown timeout), then stops the batcher.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _app.StopAsync(cancellationToken);
        FinishBatcher();
    }

    private void FinishBatcher()
    {
        if (_stopped) return;
        _stopped = true;
        _batcher.Complete();
    }

    /// <summary>Stops (if running) and releases the encoder and index.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_stopped) await StopAsync();
        await _app.DisposeAsync();
        _batcher.Dispose();
        _searchGate.Dispose();
        _rerankRoute.Dispose();
        Reranker?.Dispose();
        _generateRoute.Dispose();
        Generator?.Dispose();
        _tokenEmbeddingGate.Dispose();
        _index?.Dispose();
        _encoder.Dispose();
    }

    internal ServerMetrics Metrics => _metrics;

    private async Task Observe(HttpContext ctx, RequestDelegate next)
    {
        long start = Stopwatch.GetTimestamp();
        int status = 500;
        try
        {
            try
            {
                await next(ctx);
                status = ctx.Response.StatusCode;
            }
            catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
            {
                status = 499;
            }
            catch (Exception e) when (!ctx.Response.HasStarted)
            {
                var error = AsApiException(e);
                if (error.Status >= 500) _app.Logger.LogError(e, "{Method} {Path} failed", ctx.Request.Method, ctx.Request.Path);
                status = error.Status;
                if (error.RetryAfterSeconds > 0) ctx.Response.Headers.RetryAfter = error.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await WriteError(ctx, error);
            }
            catch (Exception e)
            {
                // The status line has gone out: the only honest signal left is to cut the connection.
                _app.Logger.LogError(e, "{Method} {Path} failed after the response started", ctx.Request.Method, ctx.Request.Path);
                ctx.Abort();
            }
        }
        finally
        {
            var route = (ctx.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            _metrics.RecordRequest(route, status, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    /// <summary>
    /// What a failed request is answered with: refusals keep their status; a Semblance error about the request's content
    /// (e.g. a vector the index cannot take) is 422; a stopping server is 503; anything else is a bug, answered 500 with
    /// a JSON body naming the exception type (the details go to the log), never an empty body.
    /// </summary>
    private static ApiException AsApiException(Exception e) => e switch
    {
        ApiException api => api,
        BadHttpRequestException bad => new ApiException(bad.StatusCode, $"could not read the request: {bad.Message}"),
        SemblanceException se => new ApiException(422, se.Message, "invalid_request_error", null, "unprocessable"),
        OperationCanceledException => new ApiException(503, "the server is shutting down", "server_error", null, "shutting_down"),
        _ => new ApiException(500, $"internal error ({e.GetType().Name}); the request was not completed and the server keeps running", "server_error", null, "internal_error"),
    };

    /// <summary>OpenAI's shape under /v1; text-embeddings-inference's <c>{"error", "error_type"}</c> on every other route.</summary>
    private static Task WriteError(HttpContext ctx, ApiException e) => WriteJson(ctx, e.Status, w =>
    {
        w.WriteStartObject();
        if (ctx.Request.Path.StartsWithSegments("/v1"))
        {
            w.WriteStartObject("error");
            w.WriteString("message", e.Message);
            w.WriteString("type", e.Type);
            if (e.Param is null) w.WriteNull("param"); else w.WriteString("param", e.Param);
            if (e.Code is null) w.WriteNull("code"); else w.WriteString("code", e.Code);
            w.WriteEndObject();
        }
        else
        {
            w.WriteString("error", e.Message);
            w.WriteString("error_type", e.TeiErrorType);
        }
        w.WriteEndObject();
    });

    /// <summary>
    /// Renders the whole body first, then sends it: a failure while rendering (e.g. a non-finite number) leaves the
    /// response untouched, so the error handler can still answer with a proper status and body.
    /// </summary>
    private static async Task WriteJson(HttpContext ctx, int status, Action<Utf8JsonWriter> write)
    {
        var body = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(body, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            write(w);
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        ctx.Response.ContentLength = body.WrittenCount;
        await ctx.Response.Body.WriteAsync(body.WrittenMemory, ctx.RequestAborted);
    }

    private async Task<EncodedTexts> Encode(IReadOnlyList<string> texts, bool refuseTooLong, string param, CancellationToken ct)
    {
        var counts = _counter.Count(texts, refuseTooLong, param);
        return await _batcher.EncodeAsync(texts, counts, ct);
    }

    private async Task OpenAiEmbeddings(HttpContext ctx)
    {
        using var doc = await JsonRequest.ReadObjectAsync(ctx.Request, _options.MaxBodyBytes, ctx.RequestAborted);
        var root = doc.RootElement;
        var texts = JsonRequest.Texts(JsonRequest.Required(root, "input"), "input", _options);
        JsonRequest.String(root, "model");
        var format = JsonRequest.String(root, "encoding_format") ?? "float";
        if (format is not ("float" or "base64"))
            throw ApiException.BadRequest($"'encoding_format' is '{format}'; expected 'float' or 'base64'", "encoding_format");
        int dims = JsonRequest.Int(root, "dimensions", 1, int.MaxValue) ?? _encoder.Dimension;
        if (dims > _encoder.Dimension)
            throw ApiException.BadRequest($"'dimensions' is {dims} but this model produces {_encoder.Dimension}-dimensional embeddings", "dimensions");

        var encoded = await Encode(texts, refuseTooLong: false, "input", ctx.RequestAborted);
        // A shortened vector is renormalised when the model's vectors are unit length, as OpenAI does for 'dimensions'.
        await WriteJson(ctx, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            var row = new float[dims];
            for (int i = 0; i < texts.Count; i++)
            {
                encoded.Vectors.Span.Slice(i * encoded.Dimension, dims).CopyTo(row);
                if (_normalizeByDefault) SentenceEncoder.NormalizeInPlace(row);
                w.WriteStartObject();
                w.WriteString("object", "embedding");
                w.WriteNumber("index", i);
                if (format == "base64")
                {
                    // Little-endian float32 bytes, as OpenAI's base64 format (x86/ARM .NET is little-endian).
                    w.WriteBase64String("embedding", MemoryMarshal.AsBytes(row.AsSpan()));
                }
                else
                {
                    w.WriteStartArray("embedding");
                    foreach (var x in row) w.WriteNumberValue(x);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("model", _options.ModelName);
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", encoded.Tokens);
            w.WriteNumber("total_tokens", encoded.Tokens);
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    private async Task TeiEmbed(HttpContext ctx)
    {
        using var doc = await JsonRequest.ReadObjectAsync(ctx.Request, _options.MaxBodyBytes, ctx.RequestAborted);
        var root = doc.RootElement;
        var texts = JsonRequest.Texts(JsonRequest.Required(root, "inputs"), "inputs", _options);
        bool normalize = JsonRequest.Bool(root, "normalize", true);
        bool truncate = JsonRequest.Bool(root, "truncate", false);
        var encoded = await Encode(texts, refuseTooLong: !truncate, "inputs", ctx.RequestAborted);
        await WriteJson(ctx, 200, w =>
        {
            int d = encoded.Dimension;
            var row = new float[d];
            w.WriteStartArray();
            for (int i = 0; i < texts.Count; i++)
            {
                encoded.Vectors.Span.Slice(i * d, d).CopyTo(row);
                if (normalize) SentenceEncoder.NormalizeInPlace(row);
                w.WriteStartArray();
                foreach (var x in row) w.WriteNumberValue(x);
                w.WriteEndArray();
            }
            w.WriteEndArray();
        });
    }

    private async Task Similarity(HttpContext ctx)
    {
        using var doc = await JsonRequest.ReadObjectAsync(ctx.Request, _options.MaxBodyBytes, ctx.RequestAborted);
        var root = doc.RootElement;
        // TEI nests the pair under "inputs"; the flat shape is accepted too.
        var body = root;
        if (JsonRequest.Optional(root, "inputs") is { } inputs)
        {
            if (inputs.ValueKind != JsonValueKind.Object)
                throw ApiException.BadRequest($"'inputs' is {JsonRequest.Kind(inputs.ValueKind)}; expected an object with 'source_sentence' and 'sentences'", "inputs");
            body = inputs;
        }
        var source = JsonRequest.Required(body, "source_sentence");
        if (source.ValueKind != JsonValueKind.String)
            throw ApiException.BadRequest($"'source_sentence' is {JsonRequest.Kind(source.ValueKind)}; expected a string", "source_sentence");
        var sentencesElement = JsonRequest.Required(body, "sentences");
        if (sentencesElement.ValueKind != JsonValueKind.Array)
            throw ApiException.BadRequest($"'sentences' is {JsonRequest.Kind(sentencesElement.ValueKind)}; expected an array of strings", "sentences");
        var sentences = JsonRequest.Texts(sentencesElement, "sentences", _options with { MaxInputsPerRequest = _options.MaxInputsPerRequest - 1 });
        var sourceText = JsonRequest.Texts(source, "source_sentence", _options);
        List<string> all = [.. sourceText, .. sentences];
        bool truncate = JsonRequest.Bool(body, "truncate", JsonRequest.Bool(root, "truncate", false));
        var encoded = await Encode(all, refuseTooLong: !truncate, "sentences", ctx.RequestAborted);
        int d = encoded.Dimension;
        var v = encoded.Vectors.Span;
        var scores = new float[sentences.Count];
        for (int i = 0; i < scores.Length; i++)
            scores[i] = TensorPrimitives.CosineSimilarity(v[..d], v.Slice((i + 1) * d, d));
        await WriteJson(ctx, 200, w =>
        {
            w.WriteStartArray();
            foreach (var s in scores) w.WriteNumberValue(s);
            w.WriteEndArray();
        });
    }

    /// <summary>
    /// <c>{"query": TEXT}</c> → <c>{"hits": [...]}</c>, or <c>{"queries": [TEXT, ...]}</c> → <c>{"results": [{"hits": [...]}, ...]}</c>;
    /// queries are encoded as the index records (SemanticIndex), so hits and scores equal `semblance search`'s.
    /// </summary>
    private async Task SearchIndex(HttpContext ctx)
    {
        using var doc = await JsonRequest.ReadObjectAsync(ctx.Request, _options.MaxBodyBytes, ctx.RequestAborted);
        if (_index is null && _options.RemoteSearch is null)
            throw new ApiException(404, "no index is loaded; start the server with --index IDX to use /search", "invalid_request_error", null, "no_index");
        var root = doc.RootElement;
        var single = JsonRequest.Optional(root, "query");
        var batch = JsonRequest.Optional(root, "queries");
        if ((single is null) == (batch is null)) throw ApiException.BadRequest("give exactly one of 'query' (a string) or 'queries' (an array of strings)", single is null ? "query" : "queries");
        string param = single is null ? "queries" : "query";
        var element = (single ?? batch)!.Value;
        if (single is not null && element.ValueKind != JsonValueKind.String)
            throw ApiException.BadRequest($"'query' is {JsonRequest.Kind(element.ValueKind)}; expected a string", "query");
        if (batch is not null && element.ValueKind != JsonValueKind.Array)
            throw ApiException.BadRequest($"'queries' is {JsonRequest.Kind(element.ValueKind)}; expected an array of strings", "queries");
        var queries = JsonRequest.Texts(element, param, _options);
        int k = JsonRequest.Int(root, "k", 1, _options.MaxSearchK) ?? 10;
        int ef = JsonRequest.Int(root, "ef_search", 1, 1 << 16) ?? 0;
        var filter = SearchFilter(JsonRequest.Optional(root, "filter"));
        if (_options.RemoteSearch is { } remote)
        {
            await SearchRemote(ctx, remote, queries, k, single is not null, filter is null && ef == 0);
            return;
        }
        var encoded = await Encode(queries.Select(_index!.QueryText).ToList(), refuseTooLong: false, param, ctx.RequestAborted);
        var q = _index!.FinishEncoded(encoded.Vectors.Span, queries.Count);
        SearchHit[][] hits;
        // Index searches share per-index scratch state; one at a time keeps them correct.
        await _searchGate.WaitAsync(ctx.RequestAborted);
        try
        {
            hits = _index.Vectors.SearchBatch(q, k, new SearchOptions { EfSearch = ef, Filter = filter });
        }
        finally
        {
            _searchGate.Release();
        }
        await WriteJson(ctx, 200, w =>
        {
            w.WriteStartObject();
            if (single is not null) SearchHitJson.WriteHits(w, hits[0]);
            else
            {
                w.WriteStartArray("results");
                foreach (var h in hits)
                {
                    w.WriteStartObject();
                    SearchHitJson.WriteHits(w, h);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        });
    }

    /// <summary>/search answered by <see cref="EmbeddingServerOptions.RemoteSearch"/>: the same shape, plus each answer's missing shards.</summary>
    private static async Task SearchRemote(HttpContext ctx, Func<string, int, CancellationToken, Task<(IReadOnlyList<SearchHit> Hits, IReadOnlyList<int> MissingShards)>> remote,
        IReadOnlyList<string> queries, int k, bool single, bool plain)
    {
        if (!plain) throw ApiException.BadRequest("'filter' and 'ef_search' are not supported by a cluster index", "filter");
        var answers = await Task.WhenAll(queries.Select(q => remote(q, k, ctx.RequestAborted)));
        await WriteJson(ctx, 200, w =>
        {
            w.WriteStartObject();
            if (single) WriteAnswer(w, answers[0]);
            else
            {
                w.WriteStartArray("results");
                foreach (var a in answers)
                {
                    w.WriteStartObject();
                    WriteAnswer(w, a);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        });

        static void WriteAnswer(Utf8JsonWriter w, (IReadOnlyList<SearchHit> Hits, IReadOnlyList<int> MissingShards) a)
        {
            SearchHitJson.WriteHits(w, a.Hits);
            w.WriteStartArray("missing_shards");
            foreach (var s in a.MissingShards) w.WriteNumberValue(s);
            w.WriteEndArray();
        }
    }

    /// <summary>"filter": {"field": value, ...} with string, number, boolean or null values (see SearchOptions.Filter).</summary>
    private static Dictionary<string, string>? SearchFilter(JsonElement? element)
    {
        if (element is not { } e) return null;
        if (e.ValueKind != JsonValueKind.Object)
            throw ApiException.BadRequest($"'filter' is {JsonRequest.Kind(e.ValueKind)}; expected an object of field values", "filter");
        var filter = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in e.EnumerateObject())
            filter[p.Name] = p.Value.ValueKind switch
            {
                JsonValueKind.String => p.Value.GetString()!,
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null => p.Value.GetRawText(),
                _ => throw ApiException.BadRequest($"'filter.{p.Name}' is {JsonRequest.Kind(p.Value.ValueKind)}; expected a string, number, boolean or null", "filter"),
            };
        return filter;
    }
}
