// Test helper: rewrites the initializers of a serialized ONNX model at the protobuf field level (drop one, move the
// data to an external file, store it as float_data), so the importer's other storage paths and errors can be tested.
using Google.Protobuf;

namespace Semblance.Tests.Models.Onnx;

internal static class OnnxRewriter
{
    /// <summary>One protobuf field as read: number, wire type, and its varint/fixed value or length-delimited bytes.</summary>
    internal sealed record Field(int Number, WireFormat.WireType Wire, ulong Value, byte[] Bytes);

    public static List<Field> Parse(byte[] message)
    {
        var input = new CodedInputStream(message);
        var fields = new List<Field>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            int number = WireFormat.GetTagFieldNumber(tag);
            var wire = WireFormat.GetTagWireType(tag);
            fields.Add(wire switch
            {
                WireFormat.WireType.Varint => new Field(number, wire, input.ReadUInt64(), []),
                WireFormat.WireType.Fixed64 => new Field(number, wire, input.ReadFixed64(), []),
                WireFormat.WireType.Fixed32 => new Field(number, wire, input.ReadFixed32(), []),
                WireFormat.WireType.LengthDelimited => new Field(number, wire, 0, input.ReadBytes().ToByteArray()),
                _ => throw new InvalidOperationException($"wire type {wire}"),
            });
        }
        return fields;
    }

    public static byte[] Write(IEnumerable<Field> fields)
    {
        using var buffer = new MemoryStream();
        using (var output = new CodedOutputStream(buffer, leaveOpen: true))
        {
            foreach (var f in fields)
            {
                output.WriteTag(f.Number, f.Wire);
                switch (f.Wire)
                {
                    case WireFormat.WireType.Varint: output.WriteUInt64(f.Value); break;
                    case WireFormat.WireType.Fixed64: output.WriteFixed64(f.Value); break;
                    case WireFormat.WireType.Fixed32: output.WriteFixed32((uint)f.Value); break;
                    default: output.WriteBytes(ByteString.CopyFrom(f.Bytes)); break;
                }
            }
        }
        return buffer.ToArray();
    }

    public static Field Bytes(int number, byte[] bytes) => new(number, WireFormat.WireType.LengthDelimited, 0, bytes);

    public static Field Text(int number, string text) => Bytes(number, System.Text.Encoding.UTF8.GetBytes(text));

    public static string Name(List<Field> tensor) =>
        System.Text.Encoding.UTF8.GetString(tensor.FirstOrDefault(f => f.Number == 8)?.Bytes ?? []);

    /// <summary>
    /// Applies <paramref name="rewrite"/> to every initializer (ModelProto.graph = 7, GraphProto.initializer = 5);
    /// returning null drops the initializer.
    /// </summary>
    public static byte[] RewriteInitializers(byte[] model, Func<List<Field>, List<Field>?> rewrite) =>
        Write(Parse(model).Select(f => f.Number != 7 ? f : Bytes(7, Write(Parse(f.Bytes).SelectMany(g =>
        {
            if (g.Number != 5) return [g];
            var tensor = rewrite(Parse(g.Bytes));
            return tensor is null ? Array.Empty<Field>() : [Bytes(5, Write(tensor))];
        })))));

    /// <summary>
    /// Applies <paramref name="rewrite"/> to the tensor attribute of every node (NodeProto.attribute = 5,
    /// AttributeProto.t = 5), which is where Constant nodes keep their value.
    /// </summary>
    public static byte[] RewriteNodeTensors(byte[] model, Func<List<Field>, List<Field>> rewrite) =>
        Write(Parse(model).Select(f => f.Number != 7 ? f : Bytes(7, Write(Parse(f.Bytes).Select(g => g.Number != 1 ? g
            : Bytes(1, Write(Parse(g.Bytes).Select(n => n.Number != 5 ? n
                : Bytes(5, Write(Parse(n.Bytes).Select(a => a.Number != 5 ? a : Bytes(5, Write(rewrite(Parse(a.Bytes)))))))))))))));

    /// <summary>Moves raw_data (field 9) of every tensor with at least <paramref name="minBytes"/> bytes to <paramref name="dataFile"/>.</summary>
    public static byte[] ToExternalData(byte[] model, string dataFile, string location, int minBytes = 64)
    {
        using var data = new FileStream(dataFile, FileMode.Create);
        return RewriteInitializers(model, tensor =>
        {
            var raw = tensor.FirstOrDefault(f => f.Number == 9);
            if (raw is null || raw.Bytes.Length < minBytes) return tensor;
            long offset = data.Position;
            data.Write(raw.Bytes);
            var result = tensor.Where(f => f.Number != 9).ToList();
            foreach (var (key, value) in new[] { ("location", location), ("offset", offset.ToString()), ("length", raw.Bytes.Length.ToString()) })
                result.Add(Bytes(13, Write([Text(1, key), Text(2, value)])));
            result.Add(new Field(14, WireFormat.WireType.Varint, 1, []));
            return result;
        });
    }

    /// <summary>Stores float32 raw_data as packed float_data (field 4) instead.</summary>
    public static byte[] ToFloatData(byte[] model) => RewriteInitializers(model, tensor =>
    {
        var raw = tensor.FirstOrDefault(f => f.Number == 9);
        bool isFloat = tensor.Any(f => f.Number == 2 && f.Value == 1);
        if (raw is null || !isFloat) return tensor;
        return tensor.Where(f => f.Number != 9).Append(Bytes(4, raw.Bytes)).ToList();
    });
}
