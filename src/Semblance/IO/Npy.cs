// NumPy .npy arrays (format 1.0–3.0, C order, little-endian) so Python users can hand vectors in and out.
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Semblance.IO;

/// <summary>A 2-D array read from .npy: <see cref="Rows"/> × <see cref="Columns"/> row-major.</summary>
public sealed record NpyMatrix<T>(int Rows, int Columns, T[] Data) where T : unmanaged
{
    public ReadOnlySpan<T> Row(int r) => Data.AsSpan(r * Columns, Columns);
}

public static partial class Npy
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads a float32 matrix ([n, d], or [n] as [n, 1]); float64 input is converted.</summary>
    public static NpyMatrix<float> ReadFloat32(string path)
    {
        using var fs = TextLines.OpenRead(path);
        var h = ReadHeader(fs, path);
        var (rows, cols) = Shape2D(h, path);
        long count = (long)rows * cols;
        CheckDataSize(fs, h, count, path, ("<f4", 4), ("<f8", 8));
        var data = new float[count];
        switch (h.Descr)
        {
            case "<f4":
                ReadExact(fs, MemoryMarshal.AsBytes(data.AsSpan()), path);
                break;
            case "<f8":
                var tmp = new double[count];
                ReadExact(fs, MemoryMarshal.AsBytes(tmp.AsSpan()), path);
                for (long i = 0; i < count; i++) data[i] = (float)tmp[i];
                break;
            default:
                throw new InputFormatException($"{path}: dtype '{h.Descr}' is not supported here, expected float32 ('<f4') or float64 ('<f8')");
        }
        return new NpyMatrix<float>(rows, cols, data);
    }

    /// <summary>Reads an integer matrix (int32 or int64, e.g. ground-truth neighbour ids) as int64.</summary>
    public static NpyMatrix<long> ReadInt64(string path)
    {
        using var fs = TextLines.OpenRead(path);
        var h = ReadHeader(fs, path);
        var (rows, cols) = Shape2D(h, path);
        long count = (long)rows * cols;
        CheckDataSize(fs, h, count, path, ("<i8", 8), ("<i4", 4));
        var data = new long[count];
        switch (h.Descr)
        {
            case "<i8":
                ReadExact(fs, MemoryMarshal.AsBytes(data.AsSpan()), path);
                break;
            case "<i4":
                var tmp = new int[count];
                ReadExact(fs, MemoryMarshal.AsBytes(tmp.AsSpan()), path);
                for (long i = 0; i < count; i++) data[i] = tmp[i];
                break;
            default:
                throw new InputFormatException($"{path}: dtype '{h.Descr}' is not supported here, expected int32 ('<i4') or int64 ('<i8')");
        }
        return new NpyMatrix<long>(rows, cols, data);
    }

    /// <summary>Writes a float32 [rows, cols] array crash-safely.</summary>
    public static void WriteFloat32(string path, ReadOnlySpan<float> data, int rows, int cols)
    {
        if ((long)rows * cols != data.Length) throw new ArgumentException($"data has {data.Length} values, expected {rows}x{cols}");
        var copy = data.ToArray();
        AtomicFile.Write(path, fs =>
        {
            fs.Write(BuildHeader("<f4", rows, cols, HeaderBytes));
            fs.Write(MemoryMarshal.AsBytes(copy.AsSpan()));
        });
    }

    internal const int HeaderBytes = 128;

    internal static byte[] BuildHeader(string descr, long rows, int cols, int totalBytes)
    {
        var dict = string.Create(CultureInfo.InvariantCulture, $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
        int prefix = Magic.Length + 2 + 2;
        int padded = totalBytes - prefix;
        if (dict.Length + 1 > padded) throw new InvalidOperationException("npy header does not fit");
        var header = new byte[totalBytes];
        Magic.CopyTo(header, 0);
        header[6] = 1;
        header[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)padded);
        var text = dict.PadRight(padded - 1) + "\n";
        Encoding.ASCII.GetBytes(text, header.AsSpan(prefix));
        return header;
    }

    private sealed record Header(string Descr, bool FortranOrder, long[] Shape);

    /// <summary>
    /// Before anything is allocated: the dtype is one of <paramref name="dtypes"/> and the bytes after the header are
    /// exactly shape × element size, so a damaged header cannot make a small file allocate gigabytes.
    /// </summary>
    private static void CheckDataSize(FileStream fs, Header h, long count, string path, params (string Descr, int Size)[] dtypes)
    {
        int size = 0;
        foreach (var (descr, s) in dtypes) if (descr == h.Descr) size = s;
        if (size == 0)
            throw new InputFormatException($"{path}: dtype {SemblanceException.Excerpt(h.Descr, 16)} is not supported here, expected {string.Join(" or ", dtypes.Select(d => $"'{d.Descr}'"))}");
        long remaining = fs.Length - fs.Position;
        if (count > remaining / size)
            throw new InputFormatException($"{path}: truncated .npy data (the header's shape needs {count} x {size} bytes, the file has {remaining} after the header)");
        if (count * size != remaining)
            throw new InputFormatException($"{path}: {remaining - count * size} trailing bytes after the .npy data (the header's shape needs {count * size})");
    }

    private static Header ReadHeader(Stream s, string path)
    {
        Span<byte> pre = stackalloc byte[10];
        if (!TryReadExact(s, pre) || !pre[..6].SequenceEqual(Magic))
            throw new InputFormatException($"{path}: not a .npy file (missing \\x93NUMPY magic)");
        int major = pre[6];
        int headerLen;
        if (major == 1)
            headerLen = BinaryPrimitives.ReadUInt16LittleEndian(pre[8..]);
        else if (major is 2 or 3)
        {
            Span<byte> two = stackalloc byte[2];
            if (!TryReadExact(s, two)) throw new InputFormatException($"{path}: truncated .npy header");
            headerLen = (int)(BinaryPrimitives.ReadUInt16LittleEndian(pre[8..]) | (uint)BinaryPrimitives.ReadUInt16LittleEndian(two) << 16);
        }
        else throw new InputFormatException($"{path}: .npy format version {major}.{pre[7]} is not supported (expected 1.0, 2.0 or 3.0)");
        if (headerLen <= 0 || headerLen > 1 << 20 || headerLen > s.Length - s.Position)
            throw new InputFormatException($"{path}: .npy header length {headerLen} is invalid (the file has {s.Length - s.Position} bytes after it)");
        var hb = new byte[headerLen];
        if (!TryReadExact(s, hb)) throw new InputFormatException($"{path}: truncated .npy header");
        var text = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(hb);
        var descr = DescrRegex().Match(text);
        var fortran = FortranRegex().Match(text);
        var shape = ShapeRegex().Match(text);
        if (!descr.Success || !fortran.Success || !shape.Success)
            throw new InputFormatException($"{path}: malformed .npy header: {SemblanceException.Excerpt(text.Trim(), 80)}");
        var dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => long.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v
                : throw new InputFormatException($"{path}: malformed shape in .npy header: {SemblanceException.Excerpt(shape.Groups[1].Value, 60)}"))
            .ToArray();
        var d = descr.Groups[1].Value;
        if (d.StartsWith('|') && d.Length > 1 && d[1] is 'i' or 'u' or 'f') d = "<" + d[1..];
        if (fortran.Groups[1].Value == "True") throw new InputFormatException($"{path}: Fortran-ordered arrays are not supported; save with np.ascontiguousarray");
        return new Header(d, false, dims);
    }

    private static (int Rows, int Cols) Shape2D(Header h, string path)
    {
        long rows, cols;
        if (h.Shape.Length == 2) (rows, cols) = (h.Shape[0], h.Shape[1]);
        else if (h.Shape.Length == 1) (rows, cols) = (h.Shape[0], 1);
        else throw new InputFormatException($"{path}: expected a 2-D array [n, d], got {h.Shape.Length} dimensions");
        if (rows > int.MaxValue || cols > int.MaxValue || rows * cols > Array.MaxLength)
            throw new InputFormatException($"{path}: array of shape ({rows}, {cols}) is too large");
        return ((int)rows, (int)cols);
    }

    private static void ReadExact(Stream s, Span<byte> dest, string path)
    {
        if (!TryReadExact(s, dest)) throw new InputFormatException($"{path}: truncated .npy data (file shorter than its header's shape says)");
    }

    private static bool TryReadExact(Stream s, Span<byte> dest)
    {
        while (dest.Length > 0)
        {
            int n = s.Read(dest);
            if (n == 0) return false;
            dest = dest[n..];
        }
        return true;
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")]
    private static partial Regex DescrRegex();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranRegex();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapeRegex();
}

/// <summary>
/// Streams float32 rows into a .npy whose row count is known only at the end: the header is reserved up front and
/// rewritten on <see cref="Complete"/>; the data goes to a temp file renamed over the target only then.
/// </summary>
public sealed class NpyStreamWriter : IDisposable
{
    private readonly string _path;
    private readonly string _temp;
    private readonly FileStream _fs;
    private long _rows;
    private bool _done;

    public NpyStreamWriter(string path, int columns)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new SemblanceException($"{path}: directory '{dir}' does not exist");
        _path = full;
        _temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        Columns = columns;
        _fs = new FileStream(_temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
        _fs.Write(Npy.BuildHeader("<f4", 0, columns, Npy.HeaderBytes));
    }

    public int Columns { get; }

    public long Rows => _rows;

    public void WriteRows(ReadOnlySpan<float> rows)
    {
        if (rows.Length % Columns != 0) throw new ArgumentException("row data is not a multiple of the column count");
        _fs.Write(MemoryMarshal.AsBytes(rows));
        _rows += rows.Length / Columns;
    }

    public void Complete()
    {
        _fs.Position = 0;
        _fs.Write(Npy.BuildHeader("<f4", _rows, Columns, Npy.HeaderBytes));
        _fs.Flush(flushToDisk: true);
        _fs.Dispose();
        File.Move(_temp, _path, overwrite: true);
        _done = true;
    }

    public void Dispose()
    {
        if (_done) return;
        _fs.Dispose();
        try { File.Delete(_temp); } catch (IOException) { }
    }
}
