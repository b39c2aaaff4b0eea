// Stored fields of the items (metadata beside id and text, e.g. from JSONL input), by slot, and equality filters on
// them. Kept in the optional fields.<G>.bin file (docs/formats/index.md).
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Semblance.Search;

internal sealed class ItemFields
{
    private readonly List<string?> _json = [];
    private Dictionary<string, string>?[]? _parsed;

    /// <summary>Whether any item has fields (the file is written only then).</summary>
    public bool Any => _json.Any(j => j is not null);

    /// <summary>The fields of a slot as one JSON object, or null.</summary>
    public string? Json(int slot) => slot < _json.Count ? _json[slot] : null;

    /// <summary>Sets the fields of slots firstSlot… (null: none), after checking each is a JSON object.</summary>
    public void Add(int firstSlot, int n, IReadOnlyList<string?>? fields)
    {
        if (fields is not null)
            for (int i = 0; i < fields.Count; i++)
                if (fields[i] is { } f && !IsObject(f)) throw new InputFormatException($"item {i}: fields are not a JSON object");
        while (_json.Count < firstSlot) _json.Add(null);
        for (int i = 0; i < n; i++) _json.Add(fields?[i]);
        _parsed = null;
    }

    private static bool IsObject(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Marks, among <paramref name="slots"/> slots, those that are removed or fail the filter: an item passes when every
    /// named field is present and equal to the value (a JSON string compares by its value, a number, true, false or
    /// null by its JSON text).
    /// </summary>
    public bool[] Excluded(IReadOnlyDictionary<string, string> filter, int slots, bool[]? deleted)
    {
        _parsed ??= _json.Select(Parse).ToArray();
        var excluded = new bool[slots];
        for (int s = 0; s < slots; s++)
        {
            if (deleted is not null && deleted[s]) { excluded[s] = true; continue; }
            var f = s < _parsed.Length ? _parsed[s] : null;
            foreach (var (name, value) in filter)
                if (f is null || !f.TryGetValue(name, out var v) || v != value) { excluded[s] = true; break; }
        }
        return excluded;
    }

    private static Dictionary<string, string>? Parse(string? json)
    {
        if (json is null) return null;
        using var doc = JsonDocument.Parse(json);
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.EnumerateObject())
            if (p.Value.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array))
                d[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
        return d;
    }

    /// <summary>Payload: int64 n; n int64 cumulative end offsets; the UTF-8 JSON objects concatenated (empty: none).</summary>
    public void Write(Stream s, int slots)
    {
        var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true);
        w.Write((long)slots);
        long end = 0;
        for (int i = 0; i < slots; i++) w.Write(end += Json(i) is { } j ? Encoding.UTF8.GetByteCount(j) : 0);
        for (int i = 0; i < slots; i++) if (Json(i) is { } j) w.Write(Encoding.UTF8.GetBytes(j));
        w.Flush();
    }

    public static unsafe ItemFields Read(MappedFile file, string path, int slots)
    {
        var p = new ReadOnlySpan<byte>(file.Pointer + IndexDataFile.HeaderBytes, (int)Math.Min(file.Length - IndexDataFile.HeaderBytes, int.MaxValue));
        if (p.Length < 8 || BinaryPrimitives.ReadInt64LittleEndian(p) != slots || 8 + 8L * slots > p.Length)
            throw new InputFormatException($"{path}: fields file does not hold {slots} items");
        int data = 8 + 8 * slots;
        var fields = new ItemFields();
        var utf8 = new UTF8Encoding(false, true);
        long start = 0;
        for (int i = 0; i < slots; i++)
        {
            long end = BinaryPrimitives.ReadInt64LittleEndian(p[(8 + 8 * i)..]);
            if (end < start || data + end > p.Length) throw new InputFormatException($"{path}: fields file offsets are inconsistent at item {i}");
            fields._json.Add(end == start ? null : utf8.GetString(p.Slice(data + (int)start, (int)(end - start))));
            start = end;
        }
        if (data + start != p.Length) throw new InputFormatException($"{path}: fields file has trailing bytes");
        return fields;
    }
}
