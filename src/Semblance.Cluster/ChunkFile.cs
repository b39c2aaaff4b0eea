// The committed form of one encoded chunk: one file, written by atomic rename, so a chunk is either absent or whole.
using System.Runtime.InteropServices;
using System.Text;
using Semblance.IO;
using Semblance.Search;

namespace Semblance.Cluster;

/// <summary>
/// Layout: magic "SMBCHNK1", first line (int64), line count (int32), dimension (int32), then one CRC-32C per line
/// (of its UTF-8 text, so the merge can prove each row belongs to its input line) and the float32 rows.
/// </summary>
public static class ChunkFile
{
    private static readonly byte[] Magic = "SMBCHNK1"u8.ToArray();

    public static string PathOf(string chunkDirectory, int index) => Path.Combine(chunkDirectory, $"chunk-{index:D6}.bin");

    public static uint LineChecksum(string line) => Crc32C.Compute(Encoding.UTF8.GetBytes(line));

    /// <summary>The lines of a chunk: the byte range of the input, split as <see cref="TextLines"/> splits files.</summary>
    public static string[] ReadLines(ChunkSpec chunk)
    {
        var bytes = new byte[chunk.Length];
        using (var fs = TextLines.OpenRead(chunk.Input))
        {
            fs.Position = chunk.Offset;
            fs.ReadExactly(bytes);
        }
        var lines = TextLines.Read(new MemoryStream(bytes), $"{chunk.Input} (from line {chunk.FirstLine + 1})").ToArray();
        if (lines.Length != chunk.Count)
            throw new SemblanceException($"{chunk.Input}: chunk {chunk.Index} should hold {chunk.Count} lines but holds {lines.Length}; the input changed since the job started");
        return lines;
    }

    public static void Write(string path, long firstLine, string[] lines, ReadOnlySpan<float> vectors, int dimension)
    {
        var data = vectors.ToArray();
        AtomicFile.Write(path, fs =>
        {
            using var w = new BinaryWriter(fs, Encoding.UTF8, leaveOpen: true);
            w.Write(Magic);
            w.Write(firstLine);
            w.Write(lines.Length);
            w.Write(dimension);
            foreach (var line in lines) w.Write(LineChecksum(line));
            w.Write(MemoryMarshal.AsBytes(data.AsSpan()));
        });
    }

    /// <summary>A committed chunk read back; a short or foreign file is an error naming it.</summary>
    public sealed record Contents(long FirstLine, uint[] Checksums, float[] Vectors, int Dimension);

    public static Contents Read(string path)
    {
        using var fs = File.OpenRead(path);
        using var r = new BinaryReader(fs);
        try
        {
            if (!r.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic)) throw new InputFormatException($"{path}: not a semblance chunk file");
            long first = r.ReadInt64();
            int count = r.ReadInt32(), dimension = r.ReadInt32();
            if (count < 0 || dimension <= 0 || fs.Length != 24 + 4L * count + 4L * count * dimension)
                throw new InputFormatException($"{path}: chunk header says {count} rows of {dimension} but the file has {fs.Length} bytes");
            var sums = new uint[count];
            for (int i = 0; i < count; i++) sums[i] = r.ReadUInt32();
            var vectors = new float[(long)count * dimension];
            fs.ReadExactly(MemoryMarshal.AsBytes(vectors.AsSpan()));
            return new Contents(first, sums, vectors, dimension);
        }
        catch (EndOfStreamException)
        {
            throw new InputFormatException($"{path}: truncated chunk file");
        }
    }

    /// <summary>Whether a committed chunk file for <paramref name="chunk"/> is present and whole.</summary>
    public static bool IsCommitted(ChunkSpec chunk)
    {
        var path = PathOf(chunk.ChunkDirectory, chunk.Index);
        if (!File.Exists(path)) return false;
        try
        {
            var c = Read(path);
            return c.FirstLine == chunk.FirstLine && c.Checksums.Length == chunk.Count;
        }
        catch (InputFormatException)
        {
            return false;
        }
    }
}
