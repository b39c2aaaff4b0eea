// A 64-byte aligned byte region for vector data: either a read-only view of a mapped index file or owned native
// memory (copied from the mapping on the first write, grown in small steps to stay near the raw size). Owned regions
// of 2 MiB or more start on a 2 MiB boundary and are advised as transparent huge pages (Linux madvise), so reads
// scattered across them, as a graph search makes, miss the TLB far less than on 4 KiB pages.
using System.Runtime.InteropServices;

namespace Semblance.Search;

internal sealed unsafe partial class NativeBuffer : IDisposable
{
    private const long HugePage = 2 << 20;
    private const int MadviseHugePage = 14;

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
            var p = Allocate(Math.Max(length, 64));
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
            var p = Allocate(cap);
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

    /// <summary>Copies a mapped view into owned memory (huge pages where large), releasing the mapping.</summary>
    public void CopyToOwnedMemory()
    {
        if (_mapped is not null) Resize(Length);
    }

    private static byte* Allocate(long bytes)
    {
        if (bytes < HugePage || !OperatingSystem.IsLinux()) return (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        long rounded = (bytes + HugePage - 1) & ~(HugePage - 1);
        var p = (byte*)NativeMemory.AlignedAlloc((nuint)rounded, (nuint)HugePage);
        // Advice only: where transparent huge pages are off, the region simply stays on small pages.
        _ = Madvise(p, (nuint)rounded, MadviseHugePage);
        return p;
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);

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
