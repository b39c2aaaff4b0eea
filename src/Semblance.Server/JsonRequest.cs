// Reading a size-capped JSON body and pulling typed fields out of it with errors that name the field.
using System.Buffers;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Unicode;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Semblance.Server;

internal static class JsonRequest
{
    /// <summary>
    /// Reads the whole body (413 past <paramref name="maxBytes"/>; 415 unless it is declared JSON in UTF-8) and parses it
    /// (400 when it is not UTF-8, malformed, nested deeper than 16, not an object, or holds a string that is not valid
    /// Unicode, such as a lone surrogate escape "\ud800", in a value or a key).
    /// </summary>
    public static async Task<JsonDocument> ReadObjectAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        CheckContentType(request.ContentType);
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
        if (Utf8.IsValid(buffer.WrittenSpan) is false)
            throw ApiException.BadRequest($"the request body is not valid UTF-8 (first bad byte at offset {FirstInvalidUtf8(buffer.WrittenSpan)})", null, "invalid_utf8");
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
        try
        {
            if (kind != JsonValueKind.Object)
                throw ApiException.BadRequest($"the request body must be a JSON object, got {Kind(kind)}", null, "invalid_json");
            CheckStrings(doc.RootElement, "");
        }
        catch
        {
            doc.Dispose();
            throw;
        }
        return doc;
    }

    /// <summary>JSON (application/json or any +json type) in UTF-8 (no charset, or utf-8); anything else is 415.</summary>
    private static void CheckContentType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType))
            throw new ApiException(415, "the request has no Content-Type; send 'Content-Type: application/json'", "invalid_request_error", null, "unsupported_media_type");
        if (!MediaTypeHeaderValue.TryParse(contentType, out var type) || type.MediaType is not { } media
            || !(media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase)))
            throw new ApiException(415, $"Content-Type '{Clip(contentType)}' is not JSON; send 'Content-Type: application/json'", "invalid_request_error", null, "unsupported_media_type");
        if (type.CharSet is { } charset && !charset.Trim('"').Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !charset.Trim('"').Equals("utf8", StringComparison.OrdinalIgnoreCase))
            throw new ApiException(415, $"charset '{Clip(charset)}' is not supported; the body must be UTF-8 JSON (charset=utf-8 or none)", "invalid_request_error", null, "unsupported_media_type");
    }

    private static string Clip(string s) => s.Length <= 64 ? s : s[..64] + "...";

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        int offset = 0;
        while (offset < bytes.Length)
        {
            if (Rune.DecodeFromUtf8(bytes[offset..], out _, out int consumed) != OperationStatus.Done) return offset;
            offset += consumed;
        }
        return offset;
    }

    /// <summary>
    /// Every key and string value must unescape to valid UTF-16 (a "\ud800" escape alone does not); System.Text.Json
    /// only finds out when a string is read, so the whole document is checked once here, before any handler reads it.
    /// </summary>
    private static void CheckStrings(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                int index = 0;
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        throw ApiException.BadRequest($"key {index} of {(path.Length == 0 ? "the body" : $"'{Clip(path)}'")} is not valid Unicode (a lone surrogate escape such as \\ud800?)", null, "invalid_unicode");
                    }
                    CheckStrings(property.Value, path.Length == 0 ? name : $"{path}.{name}");
                    index++;
                }
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in element.EnumerateArray()) CheckStrings(item, $"{path}[{i++}]");
                break;
            case JsonValueKind.String:
                try
                {
                    element.GetString();
                }
                catch (InvalidOperationException)
                {
                    throw ApiException.BadRequest($"'{Clip(path)}' is not valid Unicode (a lone surrogate escape such as \\ud800?)", Clip(path.Split('.', '[')[0]), "invalid_unicode");
                }
                break;
        }
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
