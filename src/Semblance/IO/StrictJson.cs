// Every JSON file and line Semblance reads goes through here: strict UTF-8, no lone surrogate escapes, no duplicate
// keys, one-line errors that name the source and never echo more than a short excerpt.
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Semblance.IO;

internal static class StrictJson
{
    /// <summary>Comments and trailing commas allowed (as Hugging Face's own writers sometimes emit them).</summary>
    public static readonly JsonDocumentOptions Lenient = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>
    /// Parses UTF-8 JSON and checks every string and key decodes (no invalid UTF-8, no lone <c>\ud800</c> escapes)
    /// and that no object repeats a key. <paramref name="error"/> builds the exception type the caller's domain uses
    /// (<see cref="ModelFormatException"/> or <see cref="InputFormatException"/>) from a message that starts with
    /// <paramref name="source"/>.
    /// </summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> utf8, string source, Func<string, SemblanceException> error, JsonDocumentOptions options = default)
    {
        var span = utf8.Span;
        if (span.StartsWith("\xEF\xBB\xBF"u8)) { utf8 = utf8[3..]; span = utf8.Span; }
        if (!Utf8.IsValid(span))
        {
            int at = FirstInvalidUtf8(span);
            throw error($"{source}: invalid UTF-8 at byte {at}; JSON must be UTF-8 text");
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8, options);
        }
        catch (JsonException e)
        {
            throw error($"{source}: malformed JSON ({FirstLine(e.Message)})");
        }
        try
        {
            Check(doc.RootElement, source, error);
            return doc;
        }
        catch
        {
            doc.Dispose();
            throw;
        }
    }

    /// <summary>Parses JSON text (e.g. one line of a JSONL file) with the same checks.</summary>
    public static JsonDocument Parse(string text, string source, Func<string, SemblanceException> error, JsonDocumentOptions options = default)
    {
        // A lone surrogate in a .NET string cannot be encoded as UTF-8: report it rather than substituting U+FFFD.
        for (int i = 0; i < text.Length; i++)
        {
            if (!char.IsSurrogate(text[i])) continue;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            throw error($"{source}: lone UTF-16 surrogate at character {i}; JSON must be valid Unicode text");
        }
        return Parse(Encoding.UTF8.GetBytes(text), source, error, options);
    }

    /// <summary>A mutable node tree of JSON that passed the checks of <see cref="Parse(ReadOnlyMemory{byte}, string, Func{string, SemblanceException}, JsonDocumentOptions)"/>.</summary>
    public static System.Text.Json.Nodes.JsonNode? ParseNode(ReadOnlyMemory<byte> utf8, string source, Func<string, SemblanceException> error, JsonDocumentOptions options = default)
    {
        using var doc = Parse(utf8, source, error, options);
        return ToNode(doc);
    }

    /// <summary>Reads a JSON file as a node tree (see <see cref="ParseNode"/>).</summary>
    public static System.Text.Json.Nodes.JsonNode? ReadNode(string path, Func<string, SemblanceException> error, JsonDocumentOptions options = default)
    {
        using var doc = ReadFile(path, error, options);
        return ToNode(doc);
    }

    /// <summary>Reads and parses a JSON file; a missing or unreadable file is an error naming it.</summary>
    public static JsonDocument ReadFile(string path, Func<string, SemblanceException> error, JsonDocumentOptions options = default)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw error($"{path}: file not found");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw error($"{path}: cannot read ({e.Message})");
        }
        return Parse(bytes, path, error, options);
    }

    /// <summary>
    /// Field <paramref name="name"/> of <paramref name="o"/> as <typeparamref name="T"/>: missing (or null, unless
    /// <paramref name="optional"/>) and wrong-typed values are errors naming <paramref name="source"/> and the field.
    /// </summary>
    public static T? Field<T>(System.Text.Json.Nodes.JsonObject o, string name, string source, Func<string, SemblanceException> error, bool optional = false)
    {
        var n = o[name];
        if (n is null)
            return optional ? default : throw error($"{source}: field '{name}' is missing");
        try
        {
            return n.GetValue<T>();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw error($"{source}: field '{name}' has the wrong type (expected {Describe(typeof(T))}, got {n.GetValueKind().ToString().ToLowerInvariant()})");
        }
    }

    private static string Describe(Type t) =>
        t == typeof(string) ? "a string" : t == typeof(bool) ? "true or false" : t == typeof(double) || t == typeof(float) ? "a number" : $"an integer ({t.Name})";

    /// <summary>
    /// <see cref="JsonElement.TryGetProperty(string, out JsonElement)"/> that answers false for a parent that is not an
    /// object (the framework method throws), so a value of the wrong type reads as "absent" and meets the caller's
    /// one-line error instead of escaping as an InvalidOperationException.
    /// </summary>
    public static bool TryGet(JsonElement parent, string name, out JsonElement value)
    {
        if (parent.ValueKind == JsonValueKind.Object) return parent.TryGetProperty(name, out value);
        value = default;
        return false;
    }

    private static System.Text.Json.Nodes.JsonNode? ToNode(JsonDocument doc)
    {
        var root = doc.RootElement.Clone();
        return root.ValueKind switch
        {
            JsonValueKind.Object => System.Text.Json.Nodes.JsonObject.Create(root)!,
            JsonValueKind.Array => System.Text.Json.Nodes.JsonArray.Create(root)!,
            _ => System.Text.Json.Nodes.JsonValue.Create(root),
        };
    }

    private static void Check(JsonElement e, string source, Func<string, SemblanceException> error)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                HashSet<string>? seen = null;
                foreach (var p in e.EnumerateObject())
                {
                    var name = Decode(p, source, error);
                    seen ??= new HashSet<string>(StringComparer.Ordinal);
                    if (!seen.Add(name)) throw error($"{source}: key {SemblanceException.Excerpt(name)} appears twice in one object");
                    Check(p.Value, source, error);
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in e.EnumerateArray()) Check(item, source, error);
                break;
            case JsonValueKind.String:
                try
                {
                    e.GetString();
                }
                catch (InvalidOperationException)
                {
                    throw error($"{source}: a string holds an invalid escape (a lone UTF-16 surrogate such as \\ud800)");
                }
                break;
        }
    }

    private static string Decode(JsonProperty p, string source, Func<string, SemblanceException> error)
    {
        try
        {
            return p.Name;
        }
        catch (InvalidOperationException)
        {
            throw error($"{source}: a key holds an invalid escape (a lone UTF-16 surrogate such as \\ud800)");
        }
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> span)
    {
        int offset = 0;
        var buffer = new char[1 << 16];
        while (true)
        {
            var status = Utf8.ToUtf16(span[offset..], buffer, out int read, out _, replaceInvalidSequences: false);
            offset += read;
            if (status != System.Buffers.OperationStatus.DestinationTooSmall) return offset;
        }
    }

    private static string FirstLine(string message)
    {
        int nl = message.IndexOfAny(['\r', '\n']);
        return nl < 0 ? message : message[..nl];
    }
}
