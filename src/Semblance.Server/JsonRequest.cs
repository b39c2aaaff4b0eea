// Reading a size-capped JSON body and pulling typed fields out of it with errors that name the field.
using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Semblance.Server;

internal static class JsonRequest
{
    /// <summary>Reads the whole body (413 past <paramref name="maxBytes"/>) and parses it (400 when malformed or not an object).</summary>
    public static async Task<JsonDocument> ReadObjectAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
            throw ApiException.TooLarge($"request body is {request.ContentLength} bytes; the limit is {maxBytes}", null, "request_too_large");
        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(request.ContentLength ?? 4096, maxBytes) + 1);
        try
        {
            while (true)
            {
                var span = buffer.GetMemory(8192);
                int read = await request.Body.ReadAsync(span, cancellationToken);
                if (read == 0) break;
                buffer.Advance(read);
                if (buffer.WrittenCount > maxBytes)
                    throw ApiException.TooLarge($"request body exceeds the limit of {maxBytes} bytes", null, "request_too_large");
            }
        }
        catch (BadHttpRequestException e)
        {
            throw new ApiException(e.StatusCode, $"could not read the request body: {e.Message}");
        }
        if (buffer.WrittenCount == 0) throw ApiException.BadRequest("the request body is empty; expected a JSON object");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(buffer.WrittenMemory, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"malformed JSON in the request body: {e.Message}", null, "invalid_json");
        }
        var kind = doc.RootElement.ValueKind;
        if (kind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw ApiException.BadRequest($"the request body must be a JSON object, got {Kind(kind)}", null, "invalid_json");
        }
        return doc;
    }

    /// <summary>A string or an array of strings as a list; token-id arrays are refused with a message saying so.</summary>
    public static List<string> Texts(JsonElement value, string param, EmbeddingServerOptions limits)
    {
        var texts = new List<string>();
        if (value.ValueKind == JsonValueKind.String) texts.Add(value.GetString()!);
        else if (value.ValueKind == JsonValueKind.Array)
        {
            int n = value.GetArrayLength();
            if (n == 0) throw ApiException.BadRequest($"'{param}' is an empty array; expected at least one string", param);
            if (n > limits.MaxInputsPerRequest)
                throw ApiException.TooLarge($"'{param}' has {n} items; at most {limits.MaxInputsPerRequest} are allowed per request", param, "too_many_inputs");
            int i = 0;
            foreach (var item in value.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.String) texts.Add(item.GetString()!);
                else if (item.ValueKind is JsonValueKind.Number or JsonValueKind.Array)
                    throw ApiException.BadRequest($"'{param}' holds token ids; this server takes text only (a string or an array of strings)", param, "token_ids_not_supported");
                else throw ApiException.BadRequest($"'{param}[{i}]' is {Kind(item.ValueKind)}; expected a string", param);
                i++;
            }
        }
        else throw ApiException.BadRequest($"'{param}' is {Kind(value.ValueKind)}; expected a string or an array of strings", param);
        for (int i = 0; i < texts.Count; i++)
            if (texts[i].Length > limits.MaxCharsPerInput)
                throw ApiException.TooLarge($"'{param}[{i}]' has {texts[i].Length} characters; the limit is {limits.MaxCharsPerInput}", param, "input_too_long");
        return texts;
    }

    public static JsonElement? Optional(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static JsonElement Required(JsonElement obj, string name) =>
        Optional(obj, name) ?? throw ApiException.BadRequest($"missing required field '{name}'", name);

    public static bool Bool(JsonElement obj, string name, bool defaultValue)
    {
        if (Optional(obj, name) is not { } v) return defaultValue;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw ApiException.BadRequest($"'{name}' is {Kind(v.ValueKind)}; expected true or false", name),
        };
    }

    public static int? Int(JsonElement obj, string name, int min, int max)
    {
        if (Optional(obj, name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int x))
            throw ApiException.BadRequest($"'{name}' must be an integer", name);
        if (x < min || x > max) throw ApiException.BadRequest($"'{name}' is {x}; expected {min} to {max}", name);
        return x;
    }

    public static string? String(JsonElement obj, string name)
    {
        if (Optional(obj, name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.String) throw ApiException.BadRequest($"'{name}' is {Kind(v.ValueKind)}; expected a string", name);
        return v.GetString();
    }

    public static string Kind(JsonValueKind k) => k switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "missing",
    };
}
