// The routes clients of OpenAI and text-embeddings-inference (TEI) discover or call besides embedding itself:
// GET /v1/models, POST /tokenize and /embed_all, GET /info in TEI's shape, the OpenAPI document and a docs page.
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Semblance.Embeddings;
using Semblance.Search;
using Semblance.Text;

namespace Semblance.Server;

public sealed partial class EmbeddingServer
{
    private readonly long _startedUnixSeconds = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    private readonly SemaphoreSlim _tokenEmbeddingGate = new(1, 1);

    private void MapApiRoutes()
    {
        _app.MapGet("/v1/models", ctx => WriteJson(ctx, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            WriteModel(w);
            w.WriteEndArray();
            w.WriteEndObject();
        }));
        _app.MapGet("/v1/models/{id}", (HttpContext ctx, string id) =>
        {
            if (id != _options.ModelName)
                throw new ApiException(404, $"the model '{id}' does not exist; this server serves '{_options.ModelName}'", "invalid_request_error", "model", "model_not_found");
            return WriteJson(ctx, 200, WriteModel);
        });
        _app.MapPost("/tokenize", Tokenize);
        _app.MapPost("/embed_all", EmbedAll);
        _app.MapGet("/info", Info);
        _app.MapGet("/openapi.json", ctx =>
        {
            ctx.Response.ContentType = "application/json";
            return ctx.Response.WriteAsync(OpenApiDocument.Json, ctx.RequestAborted);
        });
        _app.MapGet("/docs", ctx =>
        {
            ctx.Response.ContentType = "text/html; charset=utf-8";
            return ctx.Response.WriteAsync(OpenApiDocument.Html, ctx.RequestAborted);
        });
        _app.MapFallback(NoRoute);
    }

    /// <summary>404 for an unknown path; 405 (with Allow) for a known path called with another method.</summary>
    private Task NoRoute(HttpContext ctx)
    {
        var path = ctx.Request.Path.Value ?? "";
        var methods = _app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => string.Equals(e.RoutePattern.RawText, path, StringComparison.Ordinal))
            .SelectMany(e => e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? [])
            .Distinct().ToList();
        if (methods.Count == 0)
            throw new ApiException(404, $"no route {ctx.Request.Method} {path}; the routes are listed at /docs", "invalid_request_error", null, "not_found");
        ctx.Response.Headers.Allow = string.Join(", ", methods);
        throw new ApiException(405, $"{ctx.Request.Method} is not allowed on {path} (use {string.Join(" or ", methods)}); the routes are listed at /docs", "invalid_request_error", null, "method_not_allowed");
    }

    /// <summary>The route patterns this server maps (for the test that keeps /openapi.json complete).</summary>
    internal IReadOnlyList<string> RoutePatterns =>
        [.. _app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().Select(e => e.RoutePattern.RawText ?? "")];

    private void WriteModel(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("id", _options.ModelName);
        w.WriteString("object", "model");
        w.WriteNumber("created", _startedUnixSeconds);
        w.WriteString("owned_by", "semblance");
        w.WriteEndObject();
    }

    /// <summary>TEI's /tokenize: per input, its tokens as {id, text, special, start, stop}; offsets are not tracked (null).</summary>
    private async Task Tokenize(HttpContext ctx)
    {
        using var doc = await JsonRequest.ReadObjectAsync(ctx.Request, _options.MaxBodyBytes, ctx.RequestAborted);
        var root = doc.RootElement;
        var texts = JsonRequest.Texts(JsonRequest.Required(root, "inputs"), "inputs", _options);
        bool special = JsonRequest.Bool(root, "add_special_tokens", true);
        var tokenizer = _encoder.Backend.Tokenizer
            ?? throw ApiException.BadRequest($"this model ({_encoder.Backend.ModelType}) has no subword tokenizer to show", "inputs", "no_tokenizer");
        var encoded = texts.Select(t => tokenizer.Encode(t, 0)).ToList();
        await WriteJson(ctx, 200, w =>
        {
            w.WriteStartArray();
            foreach (var e in encoded)
            {
                w.WriteStartArray();
                // Encode adds [CLS] first and [SEP] last; without special tokens those two are left out.
                int from = special ? 0 : 1, to = special ? e.Length : e.Length - 1;
                for (int i = from; i < to; i++)
                {
                    w.WriteStartObject();
                    w.WriteNumber("id", e.Ids[i]);
                    w.WriteString("text", e.Tokens[i]);
                    w.WriteBoolean("special", i == 0 || i == e.Length - 1);
                    w.WriteNull("start");
                    w.WriteNull("stop");
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndArray();
        });
    }

    /// <summary>TEI's /embed_all: the unpooled last hidden state, [inputs][tokens][hidden], for transformer models.</summary>
    private async Task EmbedAll(HttpContext ctx)
    {
        using var doc = await JsonRequest.ReadObjectAsync(ctx.Request, _options.MaxBodyBytes, ctx.RequestAborted);
        var root = doc.RootElement;
        var texts = JsonRequest.Texts(JsonRequest.Required(root, "inputs"), "inputs", _options);
        bool truncate = JsonRequest.Bool(root, "truncate", false);
        if (_encoder.Backend is not TransformerBackend transformer)
            throw ApiException.BadRequest($"this model ({_encoder.Backend.ModelType}) has no per-token embeddings; /embed_all needs a transformer model", "inputs", "not_supported");
        var counts = _counter.Count(texts, refuseTooLong: !truncate, "inputs")!;
        long tokens = counts.Sum(c => (long)c);
        if (tokens > _options.MaxBatchTokens)
            throw ApiException.TooLarge($"'inputs' has {tokens} tokens; /embed_all answers at most {_options.MaxBatchTokens} per request", "inputs", "too_many_tokens");
        float[][][] states;
        await _tokenEmbeddingGate.WaitAsync(ctx.RequestAborted);
        try
        {
            states = await Task.Run(() => transformer.EmbedTokens(texts, ctx.RequestAborted), ctx.RequestAborted);
        }
        finally
        {
            _tokenEmbeddingGate.Release();
        }
        await WriteJson(ctx, 200, w =>
        {
            w.WriteStartArray();
            foreach (var text in states)
            {
                w.WriteStartArray();
                foreach (var token in text)
                {
                    w.WriteStartArray();
                    foreach (var x in token) w.WriteNumberValue(x);
                    w.WriteEndArray();
                }
                w.WriteEndArray();
            }
            w.WriteEndArray();
        });
    }

    /// <summary>TEI's /info fields (model_id, model_type {embedding: {pooling}}, limits, version), plus Semblance's own.</summary>
    private Task Info(HttpContext ctx) => WriteJson(ctx, 200, w =>
    {
        var b = _encoder.Backend;
        w.WriteStartObject();
        w.WriteString("model_id", _options.ModelName);
        w.WriteNull("model_sha");
        w.WriteString("model_dtype", "float32");
        w.WriteStartObject("model_type");
        w.WriteStartObject("embedding");
        w.WriteString("pooling", b.Pooling);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteNumber("max_concurrent_requests", _options.QueueCapacity);
        w.WriteNumber("max_input_length", b.MaxLength);
        w.WriteNumber("max_batch_tokens", _options.MaxBatchTokens);
        w.WriteNull("max_batch_requests");
        w.WriteNumber("max_client_batch_size", _options.MaxInputsPerRequest);
        w.WriteBoolean("auto_truncate", false);
        w.WriteNumber("tokenization_workers", 1);
        w.WriteString("version", typeof(EmbeddingServer).Assembly.GetName().Version?.ToString() ?? "unknown");
        w.WriteNull("sha");
        w.WriteNull("docker_label");
        // Semblance's own fields.
        w.WriteString("architecture", b.ModelType);
        w.WriteNumber("dimension", _encoder.Dimension);
        w.WriteString("pooling", b.Pooling);
        w.WriteBoolean("normalize", _normalizeByDefault);
        w.WriteString("similarity", SimilarityFunctions.Name(_encoder.SimilarityFunction));
        w.WriteBoolean("whitening", _encoder.Transform is not null);
        w.WriteNumber("max_batch_wait_ms", _options.MaxBatchWait.TotalMilliseconds);
        w.WriteNumber("max_input_chars", _options.MaxCharsPerInput);
        w.WriteNumber("queue_capacity", _options.QueueCapacity);
        if (_index is null) w.WriteNull("index");
        else
        {
            w.WriteStartObject("index");
            w.WriteString("kind", _index.Vectors.Kind);
            w.WriteString("metric", VectorIndex.MetricName(_index.Vectors.Metric));
            w.WriteNumber("count", _index.Vectors.Count);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    });
}
