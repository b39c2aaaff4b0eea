// Writes .safetensors files (F32, F16, BF16 or raw bytes) crash-safely: temp file, flush, atomic rename.
using System.Buffers.Binary;
using System.Text.Json;

namespace Semblance.Models;

/// <summary>Collects tensors in memory and writes them in insertion order with an 8-byte aligned data section.</summary>
internal sealed class SafeTensorsWriter
{
    private readonly List<(string Name, string DType, int[] Shape, byte[] Data)> _tensors = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal) { ["format"] = "pt" };

    /// <summary>Adds float values stored as <paramref name="dtype"/> (F32, F16 or BF16; rounding to nearest even).</summary>
    public SafeTensorsWriter Add(string name, int[] shape, ReadOnlySpan<float> values, string dtype = "F32")
    {
        if (SafeTensorsFile.ElementCount(shape) != values.Length)
            throw new ArgumentException($"tensor '{name}': {values.Length} values do not fill shape [{string.Join(", ", shape)}]");
        byte[] data;
        switch (dtype)
        {
            case "F32" when BitConverter.IsLittleEndian:
                data = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray();
                break;
            case "F32":
                data = new byte[values.Length * 4];
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), values[i]);
                break;
            case "F16":
                data = new byte[values.Length * 2];
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(data.AsSpan(i * 2), (Half)values[i]);
                break;
            case "BF16":
                data = new byte[values.Length * 2];
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(i * 2), ToBFloat16(values[i]));
                break;
            default:
                throw new ArgumentException($"tensor '{name}': cannot encode floats as {dtype}; use F32, F16 or BF16", nameof(dtype));
        }
        return AddOwned(name, dtype, shape, data);
    }

    /// <summary>Adds already-encoded little-endian data of any safetensors dtype (I64 position ids, ...).</summary>
    public SafeTensorsWriter AddRaw(string name, string dtype, int[] shape, ReadOnlySpan<byte> data) => AddOwned(name, dtype, shape, data.ToArray());

    private SafeTensorsWriter AddOwned(string name, string dtype, int[] shape, byte[] data)
    {
        int size = SafeTensorsFile.DTypeSize(dtype);
        if (size == 0) throw new ArgumentException($"unknown safetensors dtype '{dtype}'", nameof(dtype));
        if (SafeTensorsFile.ElementCount(shape) * size != data.Length)
            throw new ArgumentException($"tensor '{name}': {data.Length} bytes do not match {dtype} [{string.Join(", ", shape)}]");
        if (!_names.Add(name)) throw new ArgumentException($"tensor '{name}' was added twice", nameof(name));
        _tensors.Add((name, dtype, (int[])shape.Clone(), data));
        return this;
    }

    /// <summary>Rounds to the nearest bfloat16, ties to even; NaN stays NaN.</summary>
    public static ushort ToBFloat16(float value) => Numerics.HalfFloats.Narrow(Numerics.WeightFormat.BFloat16, value);

    public byte[] ToBytes()
    {
        using var buffer = new MemoryStream();
        WriteTo(buffer);
        return buffer.ToArray();
    }

    /// <summary>Writes the file's bytes (the same as <see cref="ToBytes"/>) to <paramref name="stream"/>.</summary>
    public void WriteTo(Stream stream)
    {
        var header = BuildHeader();
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        foreach (var t in _tensors) stream.Write(t.Data);
    }

    /// <summary>Writes the file crash-safely (temp file, fsync, atomic rename).</summary>
    public void Save(string path) => Semblance.IO.AtomicFile.Write(path, WriteTo);

    private byte[] BuildHeader()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (Metadata.Count > 0)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in Metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in _tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType);
                json.WriteStartArray("shape");
                foreach (int d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.Data.Length;
            }
            json.WriteEndObject();
        }
        // Spaces pad the header so the data section starts on an 8-byte boundary, as the reference writer does.
        int length = (int)buffer.Length;
        int padded = (length + 8 + 7) / 8 * 8 - 8;
        var header = new byte[padded];
        buffer.GetBuffer().AsSpan(0, length).CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }
}
