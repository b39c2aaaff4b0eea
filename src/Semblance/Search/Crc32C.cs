// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) for index file checksums; SSE4.2 crc32 when available.
using System.Runtime.Intrinsics.X86;

namespace Semblance.Search;

internal static class Crc32C
{
    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            t[i] = c;
        }
        return t;
    }

    /// <summary>CRC-32C of <paramref name="data"/> (initial value and final xor 0xFFFFFFFF, as iSCSI/ext4 use it).</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(0xFFFFFFFFu, data);

    internal static uint Append(uint crc, ReadOnlySpan<byte> data) =>
        Sse42.X64.IsSupported ? AppendHardware(crc, data) : AppendSoftware(crc, data);

    internal static unsafe uint AppendHardware(uint crc, ReadOnlySpan<byte> data)
    {
        fixed (byte* p0 = data)
        {
            byte* p = p0;
            long n = data.Length;
            ulong c = crc;
            while (n >= 8)
            {
                c = Sse42.X64.Crc32(c, *(ulong*)p);
                p += 8;
                n -= 8;
            }
            uint c32 = (uint)c;
            while (n-- > 0) c32 = Sse42.Crc32(c32, *p++);
            return c32;
        }
    }

    internal static uint AppendSoftware(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    /// <summary>CRC-32C of a large native region, in chunks (spans are limited to 2 GB).</summary>
    internal static unsafe uint Compute(byte* data, long length)
    {
        uint c = 0xFFFFFFFFu;
        while (length > 0)
        {
            int chunk = (int)Math.Min(length, 1 << 30);
            c = Append(c, new ReadOnlySpan<byte>(data, chunk));
            data += chunk;
            length -= chunk;
        }
        return ~c;
    }
}
