// The parts of an ONNX ModelProto the importer needs (graph nodes, initializers, attributes), read from the
// protobuf wire format with Google.Protobuf's CodedInputStream. Field numbers are those of onnx/onnx.proto.
using System.Buffers.Binary;
using Google.Protobuf;

namespace Semblance.Models.Onnx;

/// <summary>A TensorProto: dims, element type and its data (raw bytes, a typed repeated field, or an external file).</summary>
internal sealed class OnnxTensor
{
    public const int Float = 1, Int32 = 6, Int64 = 7, Float16 = 10, Double = 11;

    public string Name { get; set; } = "";
    public long[] Dims { get; set; } = [];
    public int DataType { get; set; }
    public ReadOnlyMemory<byte> Raw { get; set; }
    public bool HasRaw { get; set; }
    public List<float>? FloatData { get; set; }
    public List<long>? Int64Data { get; set; }
    public List<int>? Int32Data { get; set; }
    public List<double>? DoubleData { get; set; }
    public Dictionary<string, string>? External { get; set; }

    /// <summary>The product of the dims; -1 when a dim is negative or the product overflows.</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Dims)
            {
                if (d < 0 || (d > 0 && n > long.MaxValue / d)) return -1;
                n *= d;
            }
            return n;
        }
    }

    public string Shape => $"[{string.Join(", ", Dims)}]";

    public static string TypeName(int dataType) => dataType switch
    {
        Float => "float32", 2 => "uint8", 3 => "int8", 4 => "uint16", 5 => "int16", Int32 => "int32", Int64 => "int64",
        8 => "string", 9 => "bool", Float16 => "float16", Double => "float64", 12 => "uint32", 13 => "uint64", 16 => "bfloat16",
        _ => $"data type {dataType}",
    };

    /// <summary>The values as float32 (float16 and float64 are widened/narrowed); other element types are an error.</summary>
    public float[] ToFloats(string source)
    {
        long n = ElementCount;
        if (n < 0 || n > Array.MaxLength) throw new ModelFormatException($"{source}: tensor '{Name}' has an invalid or too large shape {Shape}");
        var result = new float[n];
        switch (DataType)
        {
            case Float when HasRaw && BitConverter.IsLittleEndian:
                RequireRawLength(source, n * 4);
                System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Raw.Span).CopyTo(result);
                break;
            case Float when HasRaw:
                RequireRawLength(source, n * 4);
                var floats = Raw.Span;
                for (int i = 0; i < n; i++) result[i] = BinaryPrimitives.ReadSingleLittleEndian(floats[(i * 4)..]);
                break;
            case Float:
                Require(source, FloatData, n);
                FloatData?.CopyTo(result);   // null when the tensor is empty (n = 0)
                break;
            case Float16 when HasRaw:
                RequireRawLength(source, n * 2);
                var halves = Raw.Span;
                for (int i = 0; i < n; i++) result[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(halves[(i * 2)..]);
                break;
            case Float16:
                Require(source, Int32Data, n);
                for (int i = 0; i < n; i++) result[i] = (float)BitConverter.UInt16BitsToHalf((ushort)Int32Data![i]);
                break;
            case Double when HasRaw:
                RequireRawLength(source, n * 8);
                var doubles = Raw.Span;
                for (int i = 0; i < n; i++) result[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(doubles[(i * 8)..]);
                break;
            case Double:
                Require(source, DoubleData, n);
                for (int i = 0; i < n; i++) result[i] = (float)DoubleData![i];
                break;
            default:
                throw new ModelFormatException($"{source}: tensor '{Name}' is {TypeName(DataType)}; expected floating-point values");
        }
        return result;
    }

    /// <summary>The values of an integer tensor (int64 or int32) as int64.</summary>
    public long[] ToInt64s(string source)
    {
        long n = ElementCount;
        if (n < 0 || n > 1 << 24) throw new ModelFormatException($"{source}: integer tensor '{Name}' {Shape} is too large to be a shape or index constant");
        var result = new long[n];
        switch (DataType)
        {
            case Int64 when HasRaw:
                RequireRawLength(source, n * 8);
                for (int i = 0; i < n; i++) result[i] = BinaryPrimitives.ReadInt64LittleEndian(Raw.Span[(i * 8)..]);
                break;
            case Int64:
                Require(source, Int64Data, n);
                Int64Data?.CopyTo(result);   // null when the tensor is empty (n = 0)
                break;
            case Int32 when HasRaw:
                RequireRawLength(source, n * 4);
                for (int i = 0; i < n; i++) result[i] = BinaryPrimitives.ReadInt32LittleEndian(Raw.Span[(i * 4)..]);
                break;
            case Int32:
                Require(source, Int32Data, n);
                for (int i = 0; i < n; i++) result[i] = Int32Data![i];
                break;
            default:
                throw new ModelFormatException($"{source}: tensor '{Name}' is {TypeName(DataType)}; expected integers");
        }
        return result;
    }

    public bool IsFloatingPoint => DataType is Float or Float16 or Double;

    public bool IsInteger => DataType is Int64 or Int32;

    private void RequireRawLength(string source, long bytes)
    {
        if (Raw.Length != bytes)
            throw new ModelFormatException($"{source}: tensor '{Name}' {Shape} {TypeName(DataType)} has {Raw.Length} bytes of data; expected {bytes}");
    }

    private void Require<T>(string source, List<T>? values, long n)
    {
        if ((values?.Count ?? 0) != n)
            throw new ModelFormatException($"{source}: tensor '{Name}' {Shape} has {values?.Count ?? 0} values; expected {n}");
    }
}

/// <summary>An AttributeProto reduced to the kinds BERT graphs use: float, int, string, tensor, floats, ints.</summary>
internal sealed class OnnxAttribute
{
    public string Name { get; set; } = "";
    public float F { get; set; }
    public long I { get; set; }
    public string S { get; set; } = "";
    public OnnxTensor? T { get; set; }
    public List<float> Floats { get; } = [];
    public List<long> Ints { get; } = [];
}

internal sealed class OnnxNode
{
    public string Name { get; set; } = "";
    public string OpType { get; set; } = "";
    public string Domain { get; set; } = "";
    public List<string> Inputs { get; } = [];
    public List<string> Outputs { get; } = [];
    public Dictionary<string, OnnxAttribute> Attributes { get; } = new(StringComparer.Ordinal);

    public string Describe => Name.Length > 0 ? $"{OpType} node '{Name}'" : $"{OpType} node";

    /// <summary>Input <paramref name="index"/>; a node with fewer inputs than its operator needs is a damaged graph.</summary>
    public string Input(int index) => index >= 0 && index < Inputs.Count ? Inputs[index]
        : throw new ModelFormatException($"{Describe} has {Inputs.Count} input(s); input {index} is missing (a damaged or unsupported graph)");

    /// <summary>Output <paramref name="index"/>, with the same check as <see cref="Input"/>.</summary>
    public string Output(int index) => index >= 0 && index < Outputs.Count ? Outputs[index]
        : throw new ModelFormatException($"{Describe} has {Outputs.Count} output(s); output {index} is missing (a damaged or unsupported graph)");

    public long Int(string name, long fallback) => Attributes.TryGetValue(name, out var a) ? a.I : fallback;

    public float Float(string name, float fallback) => Attributes.TryGetValue(name, out var a) ? a.F : fallback;
}

/// <summary>The main graph of a model: nodes in file order, initializers by name, input and output names.</summary>
internal sealed class OnnxGraph
{
    public List<OnnxNode> Nodes { get; } = [];
    public Dictionary<string, OnnxTensor> Initializers { get; } = new(StringComparer.Ordinal);
    public List<string> Inputs { get; } = [];
    public List<string> Outputs { get; } = [];
    public int SparseInitializerCount { get; set; }
    public List<string> DuplicateInitializers { get; } = [];
    public string Producer { get; set; } = "";
}

/// <summary>
/// Parses a serialized ModelProto. Only the main graph is read (ModelProto.graph = 7; GraphProto node = 1,
/// initializer = 5, sparse_initializer = 15, input = 11, output = 12); unknown fields are skipped. Tensor data stays
/// a view into the model's bytes (no copy of the weights); external data is read from the files it names.
/// </summary>
internal static class OnnxModelReader
{
    private const int WireVarint = 0, WireFixed64 = 1, WireLength = 2, WireFixed32 = 5;

    public static OnnxGraph Read(byte[] data, string source, string? externalDataDirectory)
    {
        if (data.Length == 0) throw new ModelFormatException($"{source}: empty file; expected an ONNX model");
        OnnxGraph? graph = null;
        string producer = "";
        try
        {
            var r = new Reader(data, 0, data.Length);
            while (r.Next(out int field, out int wire))
            {
                if (field == 7 && wire == WireLength) graph = ReadGraph(r.Sub());
                else if (field == 2 && wire == WireLength) producer = r.String();
                else r.Skip();
            }
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or WireFormatException or ArgumentException or OverflowException or IndexOutOfRangeException)
        {
            throw new ModelFormatException($"{source}: not a readable ONNX model ({FirstLine(e.Message)}); the file is truncated or not ONNX");
        }
        if (graph is null)
            throw new ModelFormatException($"{source}: not an ONNX model (no graph, ModelProto field 7)");
        if (graph.Nodes.Count == 0)
            throw new ModelFormatException($"{source}: the ONNX graph has no nodes; the file is truncated or not an ONNX model");
        graph.Producer = producer;
        // Before IR version 4 initializers were also listed as graph inputs; only the others are fed by the caller.
        graph.Inputs.RemoveAll(graph.Initializers.ContainsKey);
        if (graph.DuplicateInitializers.Count > 0)
            throw new ModelFormatException($"{source}: conflicting initializers: '{graph.DuplicateInitializers[0]}' is defined more than once");
        foreach (var tensor in graph.Initializers.Values)
            if (tensor.External is not null) LoadExternal(tensor, source, externalDataDirectory);
        foreach (var node in graph.Nodes)
            foreach (var a in node.Attributes.Values)
                if (a.T?.External is not null) LoadExternal(a.T, source, externalDataDirectory);
        return graph;
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();

    private static OnnxGraph ReadGraph(Reader r)
    {
        var g = new OnnxGraph();
        while (r.Next(out int field, out int wire))
        {
            switch (field)
            {
                case 1 when wire == WireLength: g.Nodes.Add(ReadNode(r.Sub())); break;
                case 5 when wire == WireLength:
                    var t = ReadTensor(r.Sub());
                    if (!g.Initializers.TryAdd(t.Name, t)) g.DuplicateInitializers.Add(t.Name);
                    break;
                case 15: g.SparseInitializerCount++; r.Skip(); break;
                case 11 when wire == WireLength: g.Inputs.Add(ReadValueInfoName(r.Sub())); break;
                case 12 when wire == WireLength: g.Outputs.Add(ReadValueInfoName(r.Sub())); break;
                default: r.Skip(); break;
            }
        }
        return g;
    }

    private static string ReadValueInfoName(Reader r)
    {
        string name = "";
        while (r.Next(out int field, out int wire))
        {
            if (field == 1 && wire == WireLength) name = r.String();
            else r.Skip();
        }
        return name;
    }

    private static OnnxNode ReadNode(Reader r)
    {
        var n = new OnnxNode();
        while (r.Next(out int field, out int wire))
        {
            switch (field)
            {
                case 1 when wire == WireLength: n.Inputs.Add(r.String()); break;
                case 2 when wire == WireLength: n.Outputs.Add(r.String()); break;
                case 3 when wire == WireLength: n.Name = r.String(); break;
                case 4 when wire == WireLength: n.OpType = r.String(); break;
                case 7 when wire == WireLength: n.Domain = r.String(); break;
                case 5 when wire == WireLength:
                    var a = ReadAttribute(r.Sub());
                    n.Attributes[a.Name] = a;
                    break;
                default: r.Skip(); break;
            }
        }
        return n;
    }

    private static OnnxAttribute ReadAttribute(Reader r)
    {
        var a = new OnnxAttribute();
        while (r.Next(out int field, out int wire))
        {
            switch (field)
            {
                case 1 when wire == WireLength: a.Name = r.String(); break;
                case 2 when wire == WireFixed32: a.F = r.In.ReadFloat(); break;
                case 3 when wire == WireVarint: a.I = r.In.ReadInt64(); break;
                case 4 when wire == WireLength: a.S = r.String(); break;
                case 5 when wire == WireLength: a.T = ReadTensor(r.Sub()); break;
                case 7: r.Repeated(wire, WireFixed32, () => a.Floats.Add(r.In.ReadFloat())); break;
                case 8: r.Repeated(wire, WireVarint, () => a.Ints.Add(r.In.ReadInt64())); break;
                default: r.Skip(); break;
            }
        }
        return a;
    }

    private static OnnxTensor ReadTensor(Reader r)
    {
        var t = new OnnxTensor();
        var dims = new List<long>();
        int location = 0;
        while (r.Next(out int field, out int wire))
        {
            switch (field)
            {
                case 1: r.Repeated(wire, WireVarint, () => dims.Add(r.In.ReadInt64())); break;
                case 2 when wire == WireVarint: t.DataType = r.In.ReadInt32(); break;
                case 4: t.FloatData ??= []; r.Repeated(wire, WireFixed32, () => t.FloatData.Add(r.In.ReadFloat())); break;
                case 5: t.Int32Data ??= []; r.Repeated(wire, WireVarint, () => t.Int32Data.Add(r.In.ReadInt32())); break;
                case 7: t.Int64Data ??= []; r.Repeated(wire, WireVarint, () => t.Int64Data.Add(r.In.ReadInt64())); break;
                case 8 when wire == WireLength: t.Name = r.String(); break;
                case 9 when wire == WireLength: t.Raw = r.Bytes(); t.HasRaw = true; break;
                case 10: t.DoubleData ??= []; r.Repeated(wire, WireFixed64, () => t.DoubleData.Add(r.In.ReadDouble())); break;
                case 13 when wire == WireLength:
                    var (key, value) = ReadStringPair(r.Sub());
                    (t.External ??= new(StringComparer.Ordinal))[key] = value;
                    break;
                case 14 when wire == WireVarint: location = r.In.ReadInt32(); break;
                default: r.Skip(); break;
            }
        }
        t.Dims = dims.ToArray();
        if (location == 1) t.External ??= new(StringComparer.Ordinal);
        else if (location == 0) t.External = null;
        else throw new WireFormatException($"tensor '{t.Name}' has unknown data_location {location}");
        return t;
    }

    private static (string Key, string Value) ReadStringPair(Reader r)
    {
        string key = "", value = "";
        while (r.Next(out int field, out int wire))
        {
            if (field == 1 && wire == WireLength) key = r.String();
            else if (field == 2 && wire == WireLength) value = r.String();
            else r.Skip();
        }
        return (key, value);
    }

    /// <summary>Reads the bytes an external-data tensor names: <c>location</c> relative to the model's directory, <c>offset</c>, <c>length</c>.</summary>
    private static void LoadExternal(OnnxTensor t, string source, string? directory)
    {
        var e = t.External!;
        if (!e.TryGetValue("location", out var location) || location.Length == 0)
            throw new ModelFormatException($"{source}: tensor '{t.Name}' is stored externally but names no location");
        if (directory is null)
            throw new ModelFormatException($"{source}: tensor '{t.Name}' is stored in the external file '{location}'; give the directory that holds it");
        if (Path.IsPathRooted(location) || location.Replace('\\', '/').Split('/').Contains(".."))
            throw new ModelFormatException($"{source}: tensor '{t.Name}' names external file '{location}' outside the model's directory");
        var path = Path.Combine(directory, location);
        if (!File.Exists(path))
            throw new ModelFormatException($"{source}: external data file '{path}' (tensor '{t.Name}') not found");
        long offset = ParseLong(e, "offset", 0, t, source);
        int size = t.DataType switch { OnnxTensor.Float or OnnxTensor.Int32 => 4, OnnxTensor.Int64 or OnnxTensor.Double => 8, OnnxTensor.Float16 => 2, _ => 1 };
        long count = t.ElementCount;
        if (count < 0 || count > long.MaxValue / 8) throw new ModelFormatException($"{source}: tensor '{t.Name}' has an invalid shape {t.Shape}");
        long expected = count * size;
        long length = ParseLong(e, "length", expected, t, source);
        if (length != expected)
            throw new ModelFormatException($"{source}: tensor '{t.Name}' {t.Shape} {OnnxTensor.TypeName(t.DataType)} has external length {length}; expected {expected} bytes");
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        if (offset < 0 || offset + length > fs.Length)
            throw new ModelFormatException($"{path}: too short for tensor '{t.Name}' (needs bytes {offset}..{offset + length}, file has {fs.Length})");
        var bytes = new byte[length];
        fs.Position = offset;
        fs.ReadExactly(bytes);
        t.Raw = bytes;
        t.HasRaw = true;
    }

    private static long ParseLong(Dictionary<string, string> e, string key, long fallback, OnnxTensor t, string source)
    {
        if (!e.TryGetValue(key, out var text)) return fallback;
        return long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long v)
            ? v
            : throw new ModelFormatException($"{source}: tensor '{t.Name}' has external {key} '{text}'; expected a non-negative integer");
    }

    private sealed class WireFormatException(string message) : Exception(message);

    /// <summary>
    /// One message's fields, read from a slice of the file. Length-delimited payloads become sub-readers or views
    /// into the same array, so nothing is copied.
    /// </summary>
    private sealed class Reader
    {
        private readonly byte[] _data;
        private readonly int _offset;
        private readonly long _start;

        public Reader(byte[] data, int offset, int length)
        {
            _data = data;
            _offset = offset;
            In = new CodedInputStream(data, offset, length);
            _start = In.Position;
        }

        public CodedInputStream In { get; }

        private int Absolute => _offset + (int)(In.Position - _start);

        public bool Next(out int field, out int wire)
        {
            uint tag = In.ReadTag();
            field = (int)(tag >> 3);
            wire = (int)(tag & 7);
            if (tag == 0) return false;
            if (field == 0) throw new WireFormatException("invalid field number 0");
            return true;
        }

        public void Skip() => In.SkipLastField();

        /// <summary>The payload of the current length-delimited field as a view into the file's bytes.</summary>
        public ReadOnlyMemory<byte> Bytes()
        {
            int at = Absolute;
            In.SkipLastField(); // checks the length against the data and moves past the payload without copying it
            int end = Absolute;
            int start = at;
            while (start < end && (_data[start] & 0x80) != 0) start++;
            start++; // the last byte of the length varint
            if (start > end) throw new WireFormatException("malformed length prefix");
            return _data.AsMemory(start, end - start);
        }

        public string String() => System.Text.Encoding.UTF8.GetString(Bytes().Span);

        public Reader Sub()
        {
            var bytes = Bytes();
            return new Reader(_data, Absolute - bytes.Length, bytes.Length);
        }

        /// <summary>A repeated scalar field, packed (one length-delimited run) or not (one value per tag).</summary>
        public void Repeated(int wire, int scalarWire, Action readOne)
        {
            if (wire == scalarWire)
            {
                readOne();
                return;
            }
            if (wire != WireLength) throw new WireFormatException($"unexpected wire type {wire} for a repeated field");
            int length = In.ReadLength();
            long end = In.Position + length;
            while (In.Position < end) readOne();
            if (In.Position != end) throw new WireFormatException("a packed field does not end on a value boundary");
        }
    }
}
