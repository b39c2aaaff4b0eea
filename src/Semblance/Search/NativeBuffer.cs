// A 64-byte aligned byte region for vector data: either a read-only view of a mapped index file or owned native
// memory (copied from the mapping on the first write, grown in small steps to stay near the raw size).
using System.Runtime.InteropServices;

namespace Semblance.Search;

internal sealed unsafe class NativeBuffer : IDisposable
{
    private MappedFile? _mapped;
    private byte* _owned;
    private long _capacity;

    public NativeBuffer() { }

    public NativeBuffer(MappedFile mapped, long offset, long length)
    {
        _mapped = mapped;
        Pointer = mapped.Pointer + offset;
        Length = length;
    }

    public byte* Pointer { get; private set; }

    public long Length { get; private set; }

    public bool IsMapped => _mapped is not null;

    /// <summary>Makes the buffer writable and at least <paramref name="length"/> bytes long; new bytes are zero.</summary>
    public void Resize(long length)
    {
        if (_mapped is not null)
        {
            var p = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(length, 64), 64);
            Buffer.MemoryCopy(Pointer, p, length, Math.Min(Length, length));
            _mapped.Dispose();
            _mapped = null;
            _owned = p;
            _capacity = Math.Max(length, 64);
            if (length > Length) NativeMemory.Clear(p + Length, (nuint)(length - Length));
            Pointer = p;
            Length = length;
            return;
        }
        if (length > _capacity)
        {
            // Growing by 1/16 keeps the slack under the 1.1x memory budget while amortising copies.
            long cap = Math.Max(length, _capacity + _capacity / 16);
            var p = (byte*)NativeMemory.AlignedAlloc((nuint)cap, 64);
            if (_owned is not null)
            {
                Buffer.MemoryCopy(_owned, p, cap, Length);
                NativeMemory.AlignedFree(_owned);
            }
            _owned = p;
            _capacity = cap;
            Pointer = p;
        }
        if (length > Length) NativeMemory.Clear(Pointer + Length, (nuint)(length - Length));
        Length = length;
    }

    public void WriteTo(Stream s)
    {
        long done = 0;
        while (done < Length)
        {
            int chunk = (int)Math.Min(Length - done, 1 << 24);
            s.Write(new ReadOnlySpan<byte>(Pointer + done, chunk));
            done += chunk;
        }
    }

    public void Dispose()
    {
        _mapped?.Dispose();
        _mapped = null;
        if (_owned is not null) NativeMemory.AlignedFree(_owned);
        _owned = null;
        Pointer = null;
        Length = 0;
    }
}
