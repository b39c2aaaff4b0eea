// POST /v1/generate-similar: SimBERT-style similar sentences from a masked-LM generator (serve --generator), with the
// same input limits (413), a bounded queue (429 + Retry-After) and slow-body cut-off (408) as the other routes.
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Semblance.Generation;

namespace Semblance.Server;

public sealed partial class EmbeddingServer
{
    private readonly BoundedRoute _generateRoute;

    /// <summary>The generator behind <c>POST /v1/generate-similar</c>, set before the server starts (owned and disposed by the server); null: the route says there is none.</summary>
    public MaskedLanguageModel? Generator { get; set; }

    private void MapGenerateRoute() => _app.MapPost("/v1/generate-similar", GenerateSimilar);

    /// <summary>
    /// <c>{"input": str | [str], "n"?, "rank"?, "greedy"?, "num_beams"?, "length_penalty"?, "top_p"?, "top_k"?, "temperature"?,
    /// "seed"?, "max_new_tokens"?}</c> → <c>{"object": "list", "data": [{"index", "source", "candidates": [...]}]}</c>, each
    /// entry in the shape <c>semblance generate</c> prints. Defaults as the CLI: sampling with top-p 0.95, n 1, 24 tokens.
    /// </summary>
    private async Task GenerateSimilar(HttpContext ctx)
    {
        using var doc = await JsonRequest.ReadObjectAsync(ctx.Request, _options.MaxBodyBytes, ctx.RequestAborted);
        var root = doc.RootElement;
        var generator = Generator ?? throw new ApiException(404, "this server has no generator; start it with 'semblance serve --generator MLM'", "invalid_request_error", null, "no_generator");
        var sources = JsonRequest.Texts(JsonRequest.Required(root, "input"), "input", _options);
        int n = JsonRequest.Int(root, "n", 1, DecodingOptions.MaxCandidates) ?? 1;
        bool rank = JsonRequest.Bool(root, "rank", false), greedy = JsonRequest.Bool(root, "greedy", false);
        int? beams = JsonRequest.Int(root, "num_beams", 1, DecodingOptions.MaxBeams);
        int? topK = JsonRequest.Int(root, "top_k", 1, 1 << 20);
        int maxNew = JsonRequest.Int(root, "max_new_tokens", 1, Math.Max(1, generator.MaxPositions - 2)) ?? 24;
        double? topP = Number(root, "top_p"), temperature = Number(root, "temperature"), lengthPenalty = Number(root, "length_penalty");
        ulong seed = 0;
        if (JsonRequest.Optional(root, "seed") is { } s && (s.ValueKind != JsonValueKind.Number || !s.TryGetUInt64(out seed)))
            throw ApiException.BadRequest("'seed' must be a non-negative integer", "seed");
        bool sampling = topP is not null || topK is not null || temperature is not null || JsonRequest.Optional(root, "seed") is not null;
        if (greedy && (beams is not null || sampling || n != 1 || rank))
            throw ApiException.BadRequest("'greedy' takes none of n, rank, num_beams, top_p, top_k, temperature, seed", "greedy");
        if (beams is not null && sampling) throw ApiException.BadRequest("'num_beams' is beam search; top_p, top_k, temperature and seed are for sampling", "num_beams");
        var options = new DecodingOptions
        {
            Strategy = greedy ? DecodingStrategy.Greedy : beams is not null ? DecodingStrategy.Beam : DecodingStrategy.Sample,
            Candidates = greedy ? 1 : beams is { } b ? (rank ? b : n) : (rank ? Math.Min(2 * n, DecodingOptions.MaxCandidates) : n),
            Beams = beams ?? 4,
            LengthPenalty = lengthPenalty ?? 1.0,
            TopK = topK ?? 0,
            TopP = topP ?? 0.95,
            Temperature = temperature ?? 1.0,
            Seed = seed,
            MaxNewTokens = maxNew,
        };
        try
        {
            options.Validate(generator.MaxPositions);
            if (beams is { } bb && n > bb) throw new SemblanceException($"n {n} needs at least {n} beams, num_beams is {bb}");
        }
        catch (SemblanceException e)
        {
            throw ApiException.BadRequest(e.Message, null);
        }

        var results = await _generateRoute.RunAsync(sources.Count * options.Candidates, "candidates are waiting to be generated",
            () => rank ? generator.GenerateRanked(sources, options, n) : generator.Generate(sources, options), ctx.RequestAborted);
        await WriteJson(ctx, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            for (int i = 0; i < results.Count; i++) results[i].WriteJson(w, i);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static double? Number(JsonElement root, string name)
    {
        if (JsonRequest.Optional(root, name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out var x) || !double.IsFinite(x))
            throw ApiException.BadRequest($"'{name}' must be a number", name);
        return x;
    }
}
