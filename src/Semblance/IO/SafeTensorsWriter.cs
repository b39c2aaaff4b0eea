// Writes safetensors files (what we save: whitening, the default encoder, trained models) crash-safely.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Semblance.IO;

/// <summary>
/// Collects F32 tensors and string metadata, then writes the safetensors layout: u64 little-endian header length N,
/// N bytes of UTF-8 JSON (<c>{"__metadata__": {...}, "name": {"dtype", "shape", "data_offsets": [begin, end]}}</c>)
/// padded with spaces so the data starts on an 8-byte boundary, then the tensors back to back in insertion order.
/// </summary>
public sealed class SafeTensorsWriter
{
    private readonly List<(string Name, int[] Shape, float[] Values)> _tensors = [];

    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>Adds a float32 tensor (values are copied, row-major).</summary>
    public SafeTensorsWriter Add(string name, int[] shape, ReadOnlySpan<float> values)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved", nameof(name));
        if (_tensors.Any(t => t.Name == name)) throw new ArgumentException($"tensor '{name}' was already added", nameof(name));
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"tensor '{name}' has a negative dimension", nameof(shape));
            count = checked(count * d);
        }
        if (count != values.Length) throw new ArgumentException($"tensor '{name}' has {values.Length} values, its shape [{string.Join(", ", shape)}] needs {count}");
        _tensors.Add((name, (int[])shape.Clone(), values.ToArray()));
        return this;
    }

    /// <summary>The header bytes (length prefix + padded JSON) for the tensors added so far.</summary>
    public byte[] BuildHeader()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (Metadata.Count > 0)
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, shape, values) in _tensors)
            {
                w.WriteStartObject(name);
                w.WriteString("dtype", "F32");
                w.WriteStartArray("shape");
                foreach (int d in shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                offset += (long)values.Length * sizeof(float);
                w.WriteNumberValue(offset);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int jsonLength = (int)ms.Length;
        int padded = (jsonLength + 7) / 8 * 8;
        var header = new byte[8 + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)padded);
        ms.GetBuffer().AsSpan(0, jsonLength).CopyTo(header.AsSpan(8));
        header.AsSpan(8 + jsonLength).Fill((byte)' ');
        return header;
    }

    /// <summary>Writes the file through a temporary file and an atomic rename.</summary>
    public void Save(string path)
    {
        var header = BuildHeader();
        AtomicFile.Write(path, fs =>
        {
            fs.Write(header);
            foreach (var (_, _, values) in _tensors)
            {
                if (BitConverter.IsLittleEndian) fs.Write(MemoryMarshal.AsBytes(values.AsSpan()));
                else
                {
                    var buf = new byte[values.Length * sizeof(float)];
                    for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(buf.AsSpan(i * 4), values[i]);
                    fs.Write(buf);
                }
            }
        });
    }
}

/// <summary>
/// Reads back the small F32 safetensors files we write (whitening, default encoder) fully into memory,
/// checking every offset against the file; large model weights go through the memory-mapped model reader.
/// </summary>
public sealed class SafeTensorsContent
{
    private readonly Dictionary<string, (int[] Shape, float[] Values)> _tensors;

    private SafeTensorsContent(string path, Dictionary<string, (int[], float[])> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        _tensors = tensors;
        Metadata = metadata;
    }

    public string Path { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public IEnumerable<string> Names => _tensors.Keys;

    public static SafeTensorsContent Read(string path)
    {
        byte[] bytes;
        if (Directory.Exists(path)) throw new ModelFormatException($"{path}: is a directory, expected a safetensors file");
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: file not found");
        bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw new ModelFormatException($"{path}: {bytes.Length} bytes is too short for a safetensors file (needs an 8-byte header length)");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > (ulong)(bytes.Length - 8)) throw new ModelFormatException($"{path}: header length {headerLength} exceeds the file size {bytes.Length}");
        int dataStart = 8 + (int)headerLength;
        var tensors = new Dictionary<string, (int[], float[])>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelFormatException($"{path}: safetensors header is not a JSON object");
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    foreach (var m in p.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : throw new ModelFormatException($"{path}: __metadata__ value '{m.Name}' is not a string");
                    continue;
                }
                var dtype = p.Value.GetProperty("dtype").GetString();
                if (dtype != "F32") throw new ModelFormatException($"{path}: tensor '{p.Name}' has dtype {dtype}, expected F32");
                var shape = p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
                var offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                long count = 1;
                foreach (int d in shape) count = d < 0 ? throw new ModelFormatException($"{path}: tensor '{p.Name}' has a negative dimension") : checked(count * d);
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] - offsets[0] != count * 4 || dataStart + offsets[1] > bytes.Length)
                    throw new ModelFormatException($"{path}: tensor '{p.Name}' data_offsets [{string.Join(", ", offsets)}] do not match its shape or the file size");
                var values = new float[count];
                var src = bytes.AsSpan(dataStart + (int)offsets[0], (int)(count * 4));
                if (BitConverter.IsLittleEndian) MemoryMarshal.Cast<byte, float>(src).CopyTo(values);
                else for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(i * 4)..]);
                tensors[p.Name] = (shape, values);
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
        {
            throw new ModelFormatException($"{path}: malformed safetensors header ({e.Message})");
        }
        return new SafeTensorsContent(path, tensors, metadata);
    }

    /// <summary>A tensor's values, checked against the expected shape (a -1 entry accepts any size and is reported back).</summary>
    public float[] Get(string name, params int[] expectedShape)
    {
        if (!_tensors.TryGetValue(name, out var t)) throw new ModelFormatException($"{Path}: tensor '{name}' is missing");
        bool ok = t.Shape.Length == expectedShape.Length;
        for (int i = 0; ok && i < expectedShape.Length; i++) ok = expectedShape[i] < 0 || expectedShape[i] == t.Shape[i];
        if (!ok)
            throw new ModelFormatException($"{Path}: tensor '{name}' has shape [{string.Join(", ", t.Shape)}], expected [{string.Join(", ", expectedShape.Select(d => d < 0 ? "*" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]");
        return t.Values;
    }

    public int[] Shape(string name) => _tensors.TryGetValue(name, out var t) ? t.Shape : throw new ModelFormatException($"{Path}: tensor '{name}' is missing");

    public string RequireMetadata(string key) =>
        Metadata.TryGetValue(key, out var v) ? v : throw new ModelFormatException($"{Path}: __metadata__ has no '{key}' entry");
}
