// Structured mutations: byte-level damage plus the edits that reach deep into text formats (numbers, JSON types,
// UTF-8) and binary ones (boundary integers at any offset).
using System.Buffers.Binary;
using System.Text;

namespace Semblance.Fuzz;

public sealed class Mutator(Random rng)
{
    private static readonly long[] Boundaries =
        [0, 1, -1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 127, 128, 255, 256, 65503, 65504, 65535, 65536, int.MaxValue, int.MinValue,
         uint.MaxValue, 0x7ff0000000000000, long.MaxValue, long.MinValue, 1L << 31, 1L << 32, 1L << 40, 1L << 53, 0x0F0F0F0F0F0F0F0F];

    private static readonly string[] Numbers =
        ["0", "-1", "1", "2147483647", "2147483648", "-2147483648", "4294967296", "9223372036854775807", "9223372036854775808",
         "99999999999999999999999", "1e309", "-1e309", "1e-400", "NaN", "Infinity", "1.5", "65505", "1e19", "3.4e38", "0x10", "00"];

    private static readonly string[] JsonValues =
        ["null", "true", "false", "0", "-1", "\"\"", "\"x\"", "[]", "{}", "[[[]]]", "{\"a\":1,\"a\":2}", "\"\\ud800\"", "\"\\udc00x\"",
         "2147483647", "1e400", "\"\\u0000\""];

    private static readonly byte[][] BadUtf8 =
        [[0x80], [0xC0, 0x80], [0xC3], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
         [0xFF], [0xFE], [0xEF, 0xBF], [0x00], [0x0A], [0x0D], [0x22], [0x5C]];

    /// <summary>Applies 1–4 stacked mutations; <paramref name="others"/> are splice partners.</summary>
    public byte[] Mutate(byte[] input, IReadOnlyList<byte[]> others)
    {
        var data = input;
        int count = 1 + rng.Next(4);
        for (int i = 0; i < count; i++) data = MutateOnce(data, others);
        return data;
    }

    private byte[] MutateOnce(byte[] d, IReadOnlyList<byte[]> others)
    {
        switch (rng.Next(14))
        {
            case 0: return d.Length == 0 ? d : d[..rng.Next(d.Length)];                             // truncate
            case 1: return FlipBit(d);
            case 2: return SetByte(d);
            case 3: return Insert(d, RandomBytes(1 + rng.Next(rng.Next(2) == 0 ? 4 : 64)));
            case 4: return Delete(d);
            case 5: return Duplicate(d);
            case 6: return Splice(d, others);
            case 7: return Boundary(d);
            case 8: return ReplaceNumber(d, Numbers[rng.Next(Numbers.Length)]);
            case 9: return ReplaceJsonValue(d);
            case 10: return Insert(d, BadUtf8[rng.Next(BadUtf8.Length)]);
            case 11: return ReplaceNumber(d, rng.Next(2) == 0 ? "\"x\"" : "[1]");                 // number → other JSON type
            case 12: return Insert(d, Encoding.ASCII.GetBytes(rng.Next(2) == 0 ? "\\ud800" : "\\uDFFF"));
            default: return Truncate(Boundary(d));
        }
    }

    private byte[] Truncate(byte[] d) => d.Length < 2 ? d : d[..(d.Length - 1 - rng.Next(Math.Min(d.Length - 1, 16)))];

    private byte[] FlipBit(byte[] d)
    {
        if (d.Length == 0) return d;
        var c = (byte[])d.Clone();
        int i = rng.Next(c.Length);
        c[i] ^= (byte)(1 << rng.Next(8));
        return c;
    }

    private byte[] SetByte(byte[] d)
    {
        if (d.Length == 0) return d;
        var c = (byte[])d.Clone();
        c[rng.Next(c.Length)] = (byte)rng.Next(256);
        return c;
    }

    private byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        rng.NextBytes(b);
        return b;
    }

    private byte[] Insert(byte[] d, byte[] what)
    {
        int at = rng.Next(d.Length + 1);
        return [.. d.AsSpan(0, at), .. what, .. d.AsSpan(at)];
    }

    private byte[] Delete(byte[] d)
    {
        if (d.Length == 0) return d;
        int at = rng.Next(d.Length), n = 1 + rng.Next(Math.Min(d.Length - at, rng.Next(2) == 0 ? 4 : 256));
        return [.. d.AsSpan(0, at), .. d.AsSpan(at + n)];
    }

    private byte[] Duplicate(byte[] d)
    {
        if (d.Length == 0) return d;
        int at = rng.Next(d.Length), n = 1 + rng.Next(Math.Min(d.Length - at, 128));
        return Insert(d, d[at..(at + n)]);
    }

    private byte[] Splice(byte[] d, IReadOnlyList<byte[]> others)
    {
        if (others.Count == 0) return d;
        var o = others[rng.Next(others.Count)];
        int a = rng.Next(d.Length + 1), b = rng.Next(o.Length + 1);
        return [.. d.AsSpan(0, a), .. o.AsSpan(b)];
    }

    /// <summary>A boundary integer written little-endian (1, 2, 4 or 8 bytes) at a random offset.</summary>
    private byte[] Boundary(byte[] d)
    {
        int width = 1 << rng.Next(4);
        if (d.Length < width) return d;
        var c = (byte[])d.Clone();
        long v = Boundaries[rng.Next(Boundaries.Length)];
        int at = rng.Next(c.Length - width + 1);
        // Aligned offsets hit length and count fields far more often than random ones.
        if (rng.Next(2) == 0) at &= ~(width - 1);
        switch (width)
        {
            case 1: c[at] = (byte)v; break;
            case 2: BinaryPrimitives.WriteInt16LittleEndian(c.AsSpan(at), (short)v); break;
            case 4: BinaryPrimitives.WriteInt32LittleEndian(c.AsSpan(at), (int)v); break;
            default: BinaryPrimitives.WriteInt64LittleEndian(c.AsSpan(at), v); break;
        }
        return c;
    }

    /// <summary>Replaces one run of ASCII digits (a number in a text format) with <paramref name="replacement"/>.</summary>
    private byte[] ReplaceNumber(byte[] d, string replacement)
    {
        var runs = new List<(int Start, int End)>();
        for (int i = 0; i < d.Length; i++)
        {
            if (!char.IsAsciiDigit((char)d[i])) continue;
            int s = i;
            while (i < d.Length && (char.IsAsciiDigit((char)d[i]) || d[i] is (byte)'.' or (byte)'-' or (byte)'e' or (byte)'E')) i++;
            runs.Add((s, i));
        }
        if (runs.Count == 0) return d;
        var (start, end) = runs[rng.Next(runs.Count)];
        return [.. d.AsSpan(0, start), .. Encoding.ASCII.GetBytes(replacement), .. d.AsSpan(end)];
    }

    /// <summary>Replaces the JSON value after a random ':' (up to the next ',' or '}') with a value of another type.</summary>
    private byte[] ReplaceJsonValue(byte[] d)
    {
        var colons = new List<int>();
        for (int i = 0; i < d.Length; i++) if (d[i] == (byte)':') colons.Add(i);
        if (colons.Count == 0) return d;
        int start = colons[rng.Next(colons.Count)] + 1, end = start, depth = 0;
        bool inString = false;
        for (; end < d.Length; end++)
        {
            byte b = d[end];
            if (inString) { if (b == (byte)'\\') end++; else if (b == (byte)'"') inString = false; continue; }
            if (b == (byte)'"') inString = true;
            else if (b is (byte)'[' or (byte)'{') depth++;
            else if (b is (byte)']' or (byte)'}') { if (depth == 0) break; depth--; }
            else if (b == (byte)',' && depth == 0) break;
        }
        var value = JsonValues[rng.Next(JsonValues.Length)];
        return [.. d.AsSpan(0, start), .. Encoding.UTF8.GetBytes(value), .. d.AsSpan(Math.Min(end, d.Length))];
    }
}
