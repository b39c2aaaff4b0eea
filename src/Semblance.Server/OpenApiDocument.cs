// The server's OpenAPI 3.0 description (served at /openapi.json) and a small human-readable page over it (/docs).
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Semblance.Server;

internal static class OpenApiDocument
{
    private static readonly (string Method, string Path, string Summary, string Family, string? RequestExample, string ResponseExample)[] Routes =
    [
        ("post", "/v1/embeddings", "Embeddings in OpenAI's shape", "openai",
            """{"input": ["hello", "world"], "model": "semblance", "encoding_format": "float", "dimensions": 128}""",
            """{"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.01, -0.02]}], "model": "semblance", "usage": {"prompt_tokens": 4, "total_tokens": 4}}"""),
        ("get", "/v1/models", "The served model, in OpenAI's list shape", "openai", null,
            """{"object": "list", "data": [{"id": "semblance", "object": "model", "created": 1764748800, "owned_by": "semblance"}]}"""),
        ("get", "/v1/models/{id}", "One model by id (404 unless it is the served one)", "openai", null,
            """{"id": "semblance", "object": "model", "created": 1764748800, "owned_by": "semblance"}"""),
        ("post", "/embed", "Pooled embeddings (text-embeddings-inference)", "tei",
            """{"inputs": ["hello", "world"], "normalize": true, "truncate": false}""", """[[0.01, -0.02], [0.03, 0.04]]"""),
        ("post", "/embed_all", "Unpooled last hidden states per token (transformer models)", "tei",
            """{"inputs": "hello", "truncate": false}""", """[[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]]"""),
        ("post", "/similarity", "Cosine of a source sentence against others", "tei",
            """{"inputs": {"source_sentence": "a cat", "sentences": ["a kitten", "stocks fell"]}}""", """[0.83, 0.12]"""),
        ("post", "/tokenize", "Tokens of each input (start/stop offsets are not tracked: null)", "tei",
            """{"inputs": "hello world", "add_special_tokens": true}""",
            """[[{"id": 101, "text": "[CLS]", "special": true, "start": null, "stop": null}, {"id": 7592, "text": "hello", "special": false, "start": null, "stop": null}]]"""),
        ("post", "/search", "Nearest items of the loaded index (start with --index); {\"queries\": [...]} answers {\"results\": [{\"hits\": [...]}, ...]}", "tei",
            """{"query": "a cat", "k": 5}""", """{"hits": [{"id": "0", "score": 0.91, "text": "a kitten"}]}"""),
        ("post", "/rerank", "Texts ordered by a cross-encoder's relevance to the query (start with --reranker)", "tei",
            """{"query": "a cat", "texts": ["stocks fell", "a kitten"], "raw_scores": false, "return_text": false}""",
            """[{"index": 1, "score": 0.93}, {"index": 0, "score": 0.02}]"""),
        ("post", "/v1/generate-similar", "Similar sentences from a SimBERT-style masked-LM generator (start with --generator): sampling (top_p, top_k, temperature, seed), beams (num_beams, length_penalty) or greedy; rank keeps the n closest to the source by the model's own vector", "openai",
            """{"input": ["how do I reset my password"], "n": 3, "top_p": 0.95, "seed": 1, "max_new_tokens": 24, "rank": true}""",
            """{"object": "list", "data": [{"index": 0, "source": "how do I reset my password", "candidates": [{"text": "how can I reset my password", "ids": [2129, 2064], "stop": "sep", "logprob": -9.3, "similarity": 0.95}]}]}"""),
        ("get", "/info", "Model and limits, in text-embeddings-inference's shape plus Semblance's fields", "tei", null,
            """{"model_id": "semblance", "model_type": {"embedding": {"pooling": "mean"}}, "max_input_length": 512, "dimension": 384}"""),
        ("get", "/health", "Liveness", "tei", null, """{"status": "ok"}"""),
    ];

    public static string Json { get; } = BuildJson();

    public static string Html { get; } = BuildHtml();

    private static string BuildJson()
    {
        var paths = new JsonObject();
        foreach (var r in Routes)
        {
            var op = new JsonObject
            {
                ["summary"] = r.Summary,
                ["responses"] = new JsonObject
                {
                    ["200"] = Response("OK", JsonNode.Parse(r.ResponseExample)),
                    ["4XX"] = Response("The request was refused; the body says why", null, r.Family == "openai" ? "OpenAiError" : "TeiError"),
                    ["5XX"] = Response("The server failed (still a JSON body)", null, r.Family == "openai" ? "OpenAiError" : "TeiError"),
                },
            };
            if (r.Path.Contains("{id}"))
                op["parameters"] = new JsonArray(new JsonObject { ["name"] = "id", ["in"] = "path", ["required"] = true, ["schema"] = new JsonObject { ["type"] = "string" } });
            if (r.RequestExample is not null)
                op["requestBody"] = new JsonObject
                {
                    ["required"] = true,
                    ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["example"] = JsonNode.Parse(r.RequestExample) } },
                };
            if (paths[r.Path] is not JsonObject item) paths[r.Path] = item = new JsonObject();
            item[r.Method] = op;
        }
        paths["/metrics"] = new JsonObject
        {
            ["get"] = new JsonObject
            {
                ["summary"] = "Prometheus metrics",
                ["responses"] = new JsonObject { ["200"] = new JsonObject { ["description"] = "text/plain; version=0.0.4" } },
            },
        };
        var doc = new JsonObject
        {
            ["openapi"] = "3.0.3",
            ["info"] = new JsonObject
            {
                ["title"] = "Semblance embedding server",
                ["version"] = typeof(OpenApiDocument).Assembly.GetName().Version?.ToString() ?? "unknown",
                ["description"] = "OpenAI-compatible routes under /v1 (errors {\"error\": {\"message\", \"type\", \"param\", \"code\"}}); text-embeddings-inference routes elsewhere (errors {\"error\", \"error_type\"}). Bodies are UTF-8 JSON with Content-Type application/json.",
            },
            ["paths"] = paths,
            ["components"] = new JsonObject
            {
                ["schemas"] = new JsonObject
                {
                    ["OpenAiError"] = JsonNode.Parse("""
                        {"type": "object", "properties": {"error": {"type": "object", "properties": {
                          "message": {"type": "string"}, "type": {"type": "string"},
                          "param": {"type": "string", "nullable": true}, "code": {"type": "string", "nullable": true}}}}}
                        """),
                    ["TeiError"] = JsonNode.Parse("""
                        {"type": "object", "properties": {"error": {"type": "string"},
                          "error_type": {"type": "string", "enum": ["Validation", "Overloaded", "Backend", "Unhealthy"]}}}
                        """),
                },
            },
        };
        return doc.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }

    private static JsonObject Response(string description, JsonNode? example, string? schema = null)
    {
        var media = new JsonObject();
        if (example is not null) media["example"] = example;
        if (schema is not null) media["schema"] = new JsonObject { ["$ref"] = $"#/components/schemas/{schema}" };
        return new JsonObject { ["description"] = description, ["content"] = new JsonObject { ["application/json"] = media } };
    }

    private static string BuildHtml()
    {
        var sb = new StringBuilder();
        sb.Append("<!doctype html><html><head><meta charset=\"utf-8\"><title>Semblance API</title></head><body>");
        sb.Append("<h1>Semblance embedding server</h1><p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI 3.0).</p><table border=\"1\" cellpadding=\"4\">");
        sb.Append("<tr><th>route</th><th>what</th><th>request</th><th>response</th></tr>");
        foreach (var r in Routes)
            sb.Append("<tr><td><code>").Append(r.Method.ToUpperInvariant()).Append(' ').Append(WebUtility.HtmlEncode(r.Path))
              .Append("</code></td><td>").Append(WebUtility.HtmlEncode(r.Summary))
              .Append("</td><td><code>").Append(WebUtility.HtmlEncode(r.RequestExample ?? "")).Append("</code></td><td><code>")
              .Append(WebUtility.HtmlEncode(r.ResponseExample)).Append("</code></td></tr>");
        sb.Append("</table></body></html>");
        return sb.ToString();
    }
}
