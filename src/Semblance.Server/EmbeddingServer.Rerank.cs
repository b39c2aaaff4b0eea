// POST /rerank in text-embeddings-inference's shape: a cross-encoder scores the query against each text; the same
// input limits (413), a bounded queue (429 + Retry-After) and slow-body cut-off (408) as the embedding routes.
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Semblance.CrossEncoders;

namespace Semblance.Server;

public sealed partial class EmbeddingServer
{
    private readonly BoundedRoute _rerankRoute;

    /// <summary>The cross-encoder behind <c>POST /rerank</c>, set before the server starts (owned and disposed by the server); null: the route says there is none.</summary>
    public CrossEncoder? Reranker { get; set; }

    private void MapRerankRoute() => _app.MapPost("/rerank", Rerank);

    /// <summary>
    /// TEI's /rerank: <c>{"query", "texts", "raw_scores"?, "return_text"?, "truncate"?}</c> → <c>[{"index", "score"[, "text"]}]</c>
    /// best first. Scores are the sigmoid of a one-label model's logit (the logit itself with raw_scores) or the last
    /// label's probability of a two-label model. Pairs longer than the model's length are truncated longest-first.
    /// </summary>
    private async Task Rerank(HttpContext ctx)
    {
        using var doc = await JsonRequest.ReadObjectAsync(ctx.Request, _options.MaxBodyBytes, ctx.RequestAborted);
        var root = doc.RootElement;
        var reranker = Reranker ?? throw new ApiException(404, "this server has no reranker; start it with 'semblance serve --reranker CE'", "invalid_request_error", null, "no_reranker");
        var queryValue = JsonRequest.Required(root, "query");
        if (queryValue.ValueKind != JsonValueKind.String)
            throw ApiException.BadRequest($"'query' must be a string, got {JsonRequest.Kind(queryValue.ValueKind)}", "query");
        var query = queryValue.GetString()!;
        if (query.Length > _options.MaxCharsPerInput)
            throw ApiException.TooLarge($"'query' has {query.Length} characters; at most {_options.MaxCharsPerInput} are accepted", "query", "input_too_long");
        var textsValue = JsonRequest.Required(root, "texts");
        if (textsValue.ValueKind != JsonValueKind.Array)
            throw ApiException.BadRequest($"'texts' must be an array of strings, got {JsonRequest.Kind(textsValue.ValueKind)}", "texts");
        var texts = JsonRequest.Texts(textsValue, "texts", _options);
        bool raw = JsonRequest.Bool(root, "raw_scores", false);
        bool returnText = JsonRequest.Bool(root, "return_text", false);
        JsonRequest.Bool(root, "truncate", true);

        var ranked = await _rerankRoute.RunAsync(texts.Count, "pairs are waiting to be reranked",
            () => reranker.Rank(query, texts, raw: raw, cancellationToken: ctx.RequestAborted), ctx.RequestAborted);
        if (ranked.FirstOrDefault(r => !float.IsFinite(r.Score)) is { } bad)
            throw new ApiException(500, $"the reranker produced a non-finite score for text {bad.Index}", "server_error", "texts", "non_finite_score");
        await WriteJson(ctx, 200, w =>
        {
            w.WriteStartArray();
            foreach (var r in ranked)
            {
                w.WriteStartObject();
                w.WriteNumber("index", r.Index);
                if (returnText) w.WriteString("text", r.Text);
                w.WriteNumber("score", r.Score);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }
}
