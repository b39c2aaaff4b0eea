// Reads .safetensors files memory-mapped: validated header, zero-copy float32 and 16-bit views, F64 converted once.
using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;
using Semblance.Numerics;

namespace Semblance.Models;

/// <summary>One entry of a safetensors header. <see cref="Offset"/> is absolute within the file.</summary>
internal sealed record SafeTensorInfo(string Name, string DType, int[] Shape, long Offset, long ByteLength)
{
    public long ElementCount => SafeTensorsFile.ElementCount(Shape);

    public bool IsFloat => DType is "F32" or "F16" or "BF16" or "F64";
}

/// <summary>
/// A float tensor: a view into a mapped file (F32, F16 or BF16 data, no copy) or an array. A 16-bit view is read as
/// stored by the consumers that can (<see cref="Bits16"/>: packing, <see cref="CopyRow"/>: embedding lookups); any
/// other reader of <see cref="Span"/> gets a float32 copy made on first use.
/// </summary>
internal sealed unsafe class FloatTensor
{
    private readonly float[]? _array;
    private readonly float* _mapped;
    private readonly ushort* _mapped16;
    private readonly ushort[]? _array16;
    private readonly SafeTensorsFile? _owner;
    private float[]? _widened;

    internal FloatTensor(string name, int[] shape, float[] values)
    {
        Name = name;
        Shape = shape;
        Length = values.Length;
        _array = values;
    }

    internal FloatTensor(string name, int[] shape, float* mapped, int length, SafeTensorsFile owner)
    {
        Name = name;
        Shape = shape;
        Length = length;
        _mapped = mapped;
        _owner = owner;
    }

    /// <summary>A float32 tensor over a copy of <paramref name="values"/>.</summary>
    internal FloatTensor(string name, int[] shape, ReadOnlySpan<float> values) : this(name, shape, values.ToArray()) { }

    /// <summary>A 16-bit tensor over <paramref name="bits"/> (an owned array, e.g. stacked weights).</summary>
    internal FloatTensor(string name, int[] shape, ushort[] bits, WeightFormat format)
    {
        Name = name;
        Shape = shape;
        Length = bits.Length;
        Format = format;
        _array16 = bits;
    }

    internal FloatTensor(string name, int[] shape, ushort* mapped, WeightFormat format, int length, SafeTensorsFile owner)
    {
        Name = name;
        Shape = shape;
        Length = length;
        Format = format;
        _mapped16 = mapped;
        _owner = owner;
    }

    public string Name { get; }

    public int[] Shape { get; }

    public int Length { get; }

    /// <summary>How the values are held: Float32, or the 16-bit format of a mapped F16/BF16 tensor.</summary>
    public WeightFormat Format { get; }

    /// <summary>Row-major values; a mapped view stays valid until its file is disposed. A 16-bit tensor is widened
    /// into a float32 array on first use (kept until the tensor is dropped).</summary>
    public ReadOnlySpan<float> Span
    {
        get
        {
            if (_array is not null) return _array;
            if (Format == WeightFormat.Float32)
            {
                _owner!.ThrowIfDisposed();
                return new ReadOnlySpan<float>(_mapped, Length);
            }
            if (_widened is null)
            {
                var values = GC.AllocateUninitializedArray<float>(Length);
                HalfFloats.Widen(Format, Bits16, values);
                _widened = values;
            }
            return _widened;
        }
    }

    /// <summary>The stored bits of a 16-bit tensor (<see cref="Format"/> Float16 or BFloat16).</summary>
    public ReadOnlySpan<ushort> Bits16
    {
        get
        {
            if (Format == WeightFormat.Float32) throw new InvalidOperationException($"{Name}: a float32 tensor has no 16-bit values");
            if (_array16 is not null) return _array16;
            _owner!.ThrowIfDisposed();
            return new ReadOnlySpan<ushort>(_mapped16, Length);
        }
    }

    /// <summary>Row <paramref name="row"/> of a 2-D tensor.</summary>
    public ReadOnlySpan<float> Row(int row)
    {
        int cols = Shape[^1];
        return Span.Slice(row * cols, cols);
    }

    /// <summary>Row <paramref name="row"/> of a 2-D tensor into <paramref name="destination"/>, widened from 16 bits
    /// when so stored (no float32 copy of the whole tensor is made).</summary>
    public void CopyRow(int row, Span<float> destination)
    {
        int cols = Shape[^1];
        if (Format == WeightFormat.Float32 || _widened is not null) Span.Slice(row * cols, cols).CopyTo(destination);
        else HalfFloats.Widen(Format, Bits16.Slice(row * cols, cols), destination);
    }
}

/// <summary>
/// A memory-mapped safetensors file: u64 little-endian header length N, N bytes of JSON
/// (<c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}</c>), then the data.
/// Every entry is checked against the file size and its dtype × shape when the file is opened.
/// </summary>
internal sealed unsafe class SafeTensorsFile : IDisposable
{
    // The reference implementation refuses headers above 100 MB; so do we, before allocating anything.
    private const long MaxHeaderBytes = 100_000_000;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly Dictionary<string, SafeTensorInfo> _tensors;
    private bool _disposed;

    private SafeTensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePointer,
        Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata, long length)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePointer;
        _tensors = tensors;
        Metadata = metadata;
        FileLength = length;
    }

    public string Path { get; }

    public long FileLength { get; }

    /// <summary>Whether <see cref="ReadFloat"/> returns tensors with NaN/±Inf instead of refusing them.</summary>
    public bool AllowNonFinite { get; private init; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors => _tensors;

    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>Element size in bytes of a safetensors dtype, or 0 when the dtype is unknown.</summary>
    public static int DTypeSize(string dtype) => dtype switch
    {
        "BOOL" or "U8" or "I8" or "F8_E4M3" or "F8_E5M2" or "F8_E8M0" => 1,
        "I16" or "U16" or "F16" or "BF16" => 2,
        "I32" or "U32" or "F32" => 4,
        "I64" or "U64" or "F64" => 8,
        _ => 0,
    };

    public static long ElementCount(int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n = checked(n * d);
        return n;
    }

    /// <summary>
    /// Opens and validates a safetensors file. Float tensors holding NaN or ±Inf are refused when read
    /// (<see cref="ReadFloat"/>) unless <paramref name="allowNonFinite"/>: a damaged weight file fails at load, not
    /// as NaN embeddings later.
    /// </summary>
    public static SafeTensorsFile Open(string path, bool allowNonFinite = false)
    {
        long length;
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            length = stream.Length;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ModelFormatException($"{path}: file not found; expected a safetensors weight file");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException($"{path}: cannot open the safetensors file ({e.Message})", e);
        }

        if (length < 8)
        {
            stream.Dispose();
            throw new ModelFormatException($"{path}: truncated safetensors file ({length} bytes); expected an 8-byte header length followed by a JSON header");
        }

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        byte* basePointer = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePointer);
            basePointer += view.PointerOffset;
            var (tensors, metadata) = ParseHeader(path, basePointer, length);
            return new SafeTensorsFile(path, map, view, basePointer, tensors, metadata, length) { AllowNonFinite = allowNonFinite };
        }
        catch
        {
            if (basePointer != null) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            if (map is not null) map.Dispose(); else stream.Dispose();
            throw;
        }
    }

    private static (Dictionary<string, SafeTensorInfo>, Dictionary<string, string>) ParseHeader(string path, byte* basePointer, long length)
    {
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(basePointer, 8));
        if (headerLength > (ulong)(length - 8))
            throw new ModelFormatException($"{path}: safetensors header length {headerLength} exceeds the {length - 8} bytes after the length field; the file is truncated or not a safetensors file");
        if (headerLength > MaxHeaderBytes)
            throw new ModelFormatException($"{path}: safetensors header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");
        long dataStart = 8 + (long)headerLength;
        long dataLength = length - dataStart;
        var headerBytes = new ReadOnlySpan<byte>(basePointer + 8, (int)headerLength).ToArray();
        var doc = IO.StrictJson.Parse(headerBytes, $"{path}: safetensors header", static m => new ModelFormatException(m));

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException($"{path}: safetensors header must be a JSON object, got {doc.RootElement.ValueKind}");
            var tensors = new Dictionary<string, SafeTensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    if (entry.Value.ValueKind != JsonValueKind.Object)
                        throw new ModelFormatException($"{path}: safetensors __metadata__ must be an object of strings");
                    foreach (var m in entry.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new ModelFormatException($"{path}: safetensors __metadata__ value '{m.Name}' must be a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                var info = ParseEntry(path, entry, dataStart, dataLength);
                if (!tensors.TryAdd(info.Name, info))
                    throw new ModelFormatException($"{path}: tensor '{info.Name}' appears twice in the safetensors header");
            }
            CheckNoOverlap(path, tensors.Values);
            return (tensors, metadata);
        }
    }

    /// <summary>Two tensors may not share bytes (as the format's reference implementation requires).</summary>
    private static void CheckNoOverlap(string path, IEnumerable<SafeTensorInfo> tensors)
    {
        SafeTensorInfo? previous = null;
        foreach (var t in tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.Offset))
        {
            if (previous is not null && t.Offset < previous.Offset + previous.ByteLength)
                throw new ModelFormatException($"{path}: tensors {SemblanceException.Excerpt(previous.Name)} and {SemblanceException.Excerpt(t.Name)} overlap in the data section (data_offsets must not share bytes)");
            previous = t;
        }
    }

    private static SafeTensorInfo ParseEntry(string path, JsonProperty entry, long dataStart, long dataLength)
    {
        string name = entry.Name;
        var v = entry.Value;
        if (v.ValueKind != JsonValueKind.Object
            || !v.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !v.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !v.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array)
            throw new ModelFormatException($"{path}: tensor '{name}' needs \"dtype\" (string), \"shape\" (array) and \"data_offsets\" (array) in the safetensors header");

        string dtype = dtypeElement.GetString()!;
        int size = DTypeSize(dtype);
        if (size == 0)
            throw new ModelFormatException($"{path}: tensor '{name}' has unknown dtype '{dtype}'; expected one of F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, ...");

        var shape = new int[shapeElement.GetArrayLength()];
        int i = 0;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int dim) || dim < 0)
                throw new ModelFormatException($"{path}: tensor '{name}' has an invalid shape entry {d.GetRawText()}; expected non-negative integers");
            shape[i++] = dim;
        }

        if (offsetsElement.GetArrayLength() != 2)
            throw new ModelFormatException($"{path}: tensor '{name}' data_offsets must be [begin, end]");
        var offsets = new long[2];
        i = 0;
        foreach (var o in offsetsElement.EnumerateArray())
        {
            if (o.ValueKind != JsonValueKind.Number || !o.TryGetInt64(out long value) || value < 0)
                throw new ModelFormatException($"{path}: tensor '{name}' has an invalid data offset {o.GetRawText()}; expected non-negative integers");
            offsets[i++] = value;
        }
        long begin = offsets[0], end = offsets[1];
        if (begin > end || end > dataLength)
            throw new ModelFormatException($"{path}: tensor '{name}' data_offsets [{begin}, {end}] lie outside the {dataLength} data bytes of the file; the file is truncated or corrupt");

        long expectedBytes;
        try
        {
            expectedBytes = checked(ElementCount(shape) * size);
        }
        catch (OverflowException)
        {
            throw new ModelFormatException($"{path}: tensor '{name}' shape [{string.Join(", ", shape)}] is too large");
        }
        if (end - begin != expectedBytes)
            throw new ModelFormatException($"{path}: tensor '{name}' occupies {end - begin} bytes but dtype {dtype} with shape [{string.Join(", ", shape)}] needs {expectedBytes}");
        return new SafeTensorInfo(name, dtype, shape, dataStart + begin, end - begin);
    }

    public SafeTensorInfo Info(string name)
    {
        ThrowIfDisposed();
        return _tensors.TryGetValue(name, out var info) ? info
            : throw new ModelFormatException($"{Path}: tensor '{name}' is missing");
    }

    /// <summary>Raw bytes of a tensor, any dtype, valid until this file is disposed.</summary>
    public ReadOnlySpan<byte> RawBytes(string name)
    {
        var info = Info(name);
        return new ReadOnlySpan<byte>(_base + info.Offset, checked((int)info.ByteLength));
    }

    /// <summary>
    /// The tensor as floats. F32, F16 and BF16 data are returned as views into the mapping (no copy; a 16-bit view
    /// widens as it is read, see <see cref="FloatTensor"/>); F64 is converted into a new array. Non-float dtypes are an error.
    /// </summary>
    public FloatTensor ReadFloat(string name)
    {
        var info = Info(name);
        if (!info.IsFloat)
            throw new ModelFormatException($"{Path}: tensor '{name}' has dtype {info.DType}; expected a floating-point dtype (F32, F16, BF16 or F64)");
        long count = info.ElementCount;
        if (count > Array.MaxLength)
            throw new ModelFormatException($"{Path}: tensor '{name}' has {count} elements, more than one array can hold");
        int n = (int)count;
        byte* src = _base + info.Offset;
        if (info.DType == "F32" && BitConverter.IsLittleEndian)
            return CheckFinite(new FloatTensor(name, info.Shape, (float*)src, n, this));
        if (info.DType is "F16" or "BF16" && BitConverter.IsLittleEndian)
            return CheckFinite(new FloatTensor(name, info.Shape, (ushort*)src, info.DType == "F16" ? WeightFormat.Float16 : WeightFormat.BFloat16, n, this));

        var values = new float[n];
        var bytes = new ReadOnlySpan<byte>(src, checked((int)info.ByteLength));
        switch (info.DType)
        {
            case "F32":
                for (int i = 0; i < n; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i * 4));
                break;
            case "F16":
                for (int i = 0; i < n; i++) values[i] = HalfFloats.Widen(WeightFormat.Float16, BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(i * 2)));
                break;
            case "BF16":
                for (int i = 0; i < n; i++) values[i] = HalfFloats.Widen(WeightFormat.BFloat16, BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(i * 2)));
                break;
            case "F64":
                for (int i = 0; i < n; i++) values[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes.Slice(i * 8));
                break;
        }
        return CheckFinite(new FloatTensor(name, info.Shape, values));
    }

    private FloatTensor CheckFinite(FloatTensor t)
    {
        if (AllowNonFinite) return t;
        bool is16 = t.Format != WeightFormat.Float32;
        long at = is16 ? HalfFloats.IndexOfNonFinite(t.Format, t.Bits16) : Numerics.Kernels.IndexOfNonFinite(t.Span);
        if (at >= 0)
        {
            float value = is16 ? HalfFloats.Widen(t.Format, t.Bits16[(int)at]) : t.Span[(int)at];
            throw new ModelFormatException($"{Path}: tensor '{t.Name}' holds {value.ToString(System.Globalization.CultureInfo.InvariantCulture)} at element {at}; weights must be finite (the file is damaged; --allow-nonfinite loads it anyway)");
        }
        return t;
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
