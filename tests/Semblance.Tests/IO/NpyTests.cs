// .npy round trips, streaming writer header rewrite, and malformed-file errors.
using System.Text;
using Semblance.IO;

namespace Semblance.Tests.IO;

public sealed class NpyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("semblance-npy").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Float32RoundTrip()
    {
        var path = Path.Combine(_dir, "a.npy");
        float[] data = [1, 2, 3, 4, 5, 6];
        Npy.WriteFloat32(path, data, 2, 3);
        var m = Npy.ReadFloat32(path);
        Assert.Equal((2, 3), (m.Rows, m.Columns));
        Assert.Equal(data, m.Data);
        Assert.Equal(0, (new FileInfo(path).Length - 24) % 64 == 0 ? 0 : (new FileInfo(path).Length - 24) % 16);
    }

    [Fact]
    public void HeaderIsValidNumpyV1()
    {
        var path = Path.Combine(_dir, "h.npy");
        Npy.WriteFloat32(path, new float[4], 2, 2);
        var bytes = File.ReadAllBytes(path);
        int headerLen = bytes[8] | bytes[9] << 8;
        Assert.Equal(0, (10 + headerLen) % 64);
        var header = Encoding.ASCII.GetString(bytes, 10, headerLen);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", header);
        Assert.EndsWith("\n", header);
    }

    [Fact]
    public void StreamWriterRewritesRowCountAndLeavesNoTempFiles()
    {
        var path = Path.Combine(_dir, "s.npy");
        using (var w = new NpyStreamWriter(path, 2))
        {
            w.WriteRows([1, 2]);
            w.WriteRows([3, 4, 5, 6]);
            w.Complete();
        }
        var m = Npy.ReadFloat32(path);
        Assert.Equal(3, m.Rows);
        Assert.Equal([1f, 2, 3, 4, 5, 6], m.Data);
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void AbandonedStreamWriterLeavesTargetUntouched()
    {
        var path = Path.Combine(_dir, "keep.npy");
        Npy.WriteFloat32(path, [7f], 1, 1);
        using (var w = new NpyStreamWriter(path, 1)) w.WriteRows([1f]);
        Assert.Equal([7f], Npy.ReadFloat32(path).Data);
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void TruncatedAndForeignFilesAreClearErrors()
    {
        var path = Path.Combine(_dir, "t.npy");
        Npy.WriteFloat32(path, new float[10], 5, 2);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^4]);
        Assert.Contains("truncated", Assert.Throws<InputFormatException>(() => Npy.ReadFloat32(path)).Message);
        File.WriteAllText(path, "hello");
        Assert.Contains("not a .npy file", Assert.Throws<InputFormatException>(() => Npy.ReadFloat32(path)).Message);
    }

    [Fact]
    public void Int32GroundTruthReadsAsInt64()
    {
        var path = Path.Combine(_dir, "gt.npy");
        var header = Npy.BuildHeader("<i4", 1, 3, 128);
        File.WriteAllBytes(path, header.Concat(BitConverter.GetBytes(7)).Concat(BitConverter.GetBytes(-1)).Concat(BitConverter.GetBytes(3)).ToArray());
        var m = Npy.ReadInt64(path);
        Assert.Equal([7L, -1, 3], m.Data);
    }
}
