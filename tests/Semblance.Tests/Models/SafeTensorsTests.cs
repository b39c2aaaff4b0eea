// safetensors reading and writing: round trips, dtype conversion, and one-line errors for every kind of broken file.
using System.Buffers.Binary;
using System.Text;
using Semblance.Models;

namespace Semblance.Tests.Models;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Writes a file with the given header text (padded to 8 bytes) and data bytes.</summary>
    private string WriteRaw(string name, string header, byte[] data, long? claimedHeaderLength = null)
    {
        var headerBytes = Encoding.UTF8.GetBytes(header);
        int padded = (headerBytes.Length + 7) / 8 * 8;
        var bytes = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)(claimedHeaderLength ?? padded));
        headerBytes.CopyTo(bytes, 8);
        bytes.AsSpan(8 + headerBytes.Length, padded - headerBytes.Length).Fill((byte)' ');
        data.CopyTo(bytes, 8 + padded);
        var path = _dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static ModelFormatException OpenFails(string path)
    {
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains(path, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
        return ex;
    }

    [Fact]
    public void WriterRoundTripsF32ExactlyWithAlignedData()
    {
        var values = new float[] { 1.5f, -2.25f, float.Epsilon, 3.4e38f, 0f, -0f };
        var path = _dir.File("a.safetensors");
        new SafeTensorsWriter().Add("w", [2, 3], values).Add("b", [1], [7f]).Save(path);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(values, file.ReadFloat("w").Span.ToArray());
        Assert.Equal([2, 3], file.Info("w").Shape);
        Assert.Equal(7f, file.ReadFloat("b").Span[0]);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(0, file.Info("w").Offset % 8);
        Assert.Equal([path], Directory.GetFiles(_dir.Path));
    }

    [Fact]
    public void F16AndBF16AreConvertedToFloat32()
    {
        // Values each format represents exactly, including its extremes (F16 max 65504, BF16 keeps float32's range).
        var f16 = new float[] { 1f, -0.5f, 65504f, 0.000061035156f, 3.140625f, 0f };
        var bf16 = new float[] { 1f, -0.5f, 65536f, MathF.Pow(2, -100), 3.140625f, -MathF.Pow(2, 120) };
        var path = _dir.File("half.safetensors");
        new SafeTensorsWriter().Add("h", [6], f16, "F16").Add("bf", [2, 3], bf16, "BF16").Save(path);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal("F16", file.Info("h").DType);
        Assert.Equal(12, file.Info("h").ByteLength);
        Assert.Equal(f16, file.ReadFloat("h").Span.ToArray());
        Assert.Equal(bf16, file.ReadFloat("bf").Span.ToArray());
        Assert.Equal([2, 3], file.ReadFloat("bf").Shape);
    }

    [Fact]
    public void BFloat16RoundsToNearestEven()
    {
        // 1 + 2^-8 is halfway between bfloat16 neighbours 1 and 1 + 2^-7: ties go to the even mantissa (1).
        Assert.Equal(0x3F80, SafeTensorsWriter.ToBFloat16(1f + 1f / 256));
        Assert.Equal(0x3F81, SafeTensorsWriter.ToBFloat16(1f + 1f / 256 + 1f / 65536));
        Assert.Equal(0x3F82, SafeTensorsWriter.ToBFloat16(1f + 3f / 256));
        Assert.True(float.IsNaN(BitConverter.Int32BitsToSingle(SafeTensorsWriter.ToBFloat16(float.NaN) << 16)));
    }

    [Fact]
    public void IntegerTensorsAreListedButNotReadAsFloats()
    {
        var ids = new byte[3 * 8];
        for (int i = 0; i < 3; i++) BinaryPrimitives.WriteInt64LittleEndian(ids.AsSpan(i * 8), i);
        var path = _dir.File("ids.safetensors");
        new SafeTensorsWriter().AddRaw("embeddings.position_ids", "I64", [1, 3], ids).Add("x", [1], [2f]).Save(path);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal("I64", file.Info("embeddings.position_ids").DType);
        Assert.Equal(ids, file.RawBytes("embeddings.position_ids").ToArray());
        var ex = Assert.Throws<ModelFormatException>(() => file.ReadFloat("embeddings.position_ids"));
        Assert.Contains("I64", ex.Message);
        Assert.Contains("embeddings.position_ids", ex.Message);
    }

    [Fact]
    public void MappedViewsRefuseUseAfterDispose()
    {
        var path = _dir.File("d.safetensors");
        new SafeTensorsWriter().Add("w", [2], [1f, 2f]).Save(path);
        var file = SafeTensorsFile.Open(path);
        var tensor = file.ReadFloat("w");
        Assert.Equal(2f, tensor.Span[1]);
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => tensor.Span.Length);
    }

    [Fact]
    public void MissingFile() =>
        Assert.Contains("not found", OpenFails(_dir.File("nope.safetensors")).Message);

    [Fact]
    public void FileShorterThanTheLengthField()
    {
        var path = _dir.File("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Contains("truncated", OpenFails(path).Message);
        File.WriteAllBytes(path, []);
        Assert.Contains("truncated", OpenFails(path).Message);
    }

    [Fact]
    public void HeaderLengthBeyondFile()
    {
        var path = WriteRaw("long.safetensors", "{}", [], claimedHeaderLength: 1_000_000);
        Assert.Contains("header length 1000000 exceeds", OpenFails(path).Message);
    }

    [Fact]
    public void MalformedHeaderJson()
    {
        Assert.Contains("safetensors header: malformed JSON", OpenFails(WriteRaw("bad.safetensors", "{\"w\": {\"dtype\": ", [])).Message);
        Assert.Contains("JSON object", OpenFails(WriteRaw("array.safetensors", "[1, 2]", [])).Message);
        Assert.Contains("needs \"dtype\"", OpenFails(WriteRaw("fields.safetensors", "{\"w\": {\"dtype\": \"F32\"}}", [])).Message);
        Assert.Contains("invalid shape", OpenFails(WriteRaw("shape.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 0]}}", [])).Message);
        Assert.Contains("appears twice", OpenFails(WriteRaw("dup.safetensors",
            "{\"w\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [0, 0]}, \"w\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [0, 0]}}", [])).Message);
    }

    [Fact]
    public void UnknownDType()
    {
        var ex = OpenFails(WriteRaw("dtype.safetensors", "{\"w\": {\"dtype\": \"F17\", \"shape\": [1], \"data_offsets\": [0, 4]}}", new byte[4]));
        Assert.Contains("unknown dtype 'F17'", ex.Message);
        Assert.Contains("'w'", ex.Message);
    }

    [Fact]
    public void DataOffsetsOutsideTheFile()
    {
        // A correct file cut short: the last tensor's data no longer fits.
        var path = _dir.File("cut.safetensors");
        new SafeTensorsWriter().Add("a", [4], [1f, 2f, 3f, 4f]).Add("b", [4], [5f, 6f, 7f, 8f]).Save(path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^5]);
        var ex = OpenFails(path);
        Assert.Contains("'b'", ex.Message);
        Assert.Contains("outside", ex.Message);

        Assert.Contains("outside", OpenFails(WriteRaw("reversed.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}", new byte[4])).Message);
    }

    [Fact]
    public void DataOffsetsDisagreeingWithShape()
    {
        var ex = OpenFails(WriteRaw("size.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 12]}}", new byte[16]));
        Assert.Contains("occupies 12 bytes", ex.Message);
        Assert.Contains("needs 16", ex.Message);
    }

    [Fact]
    public void MissingTensorNamesTheFile()
    {
        var path = _dir.File("m.safetensors");
        new SafeTensorsWriter().Add("w", [1], [1f]).Save(path);
        using var file = SafeTensorsFile.Open(path);
        var ex = Assert.Throws<ModelFormatException>(() => file.ReadFloat("v"));
        Assert.Contains(path, ex.Message);
        Assert.Contains("'v' is missing", ex.Message);
    }
}
