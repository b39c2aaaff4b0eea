// Storage that starts on a cache-line boundary, so 64-byte vector loads never straddle two lines.
namespace Semblance.Numerics;

/// <summary>A pinned array and the offset of its first 64-byte-aligned element.</summary>
internal unsafe class AlignedBuffer<T> where T : unmanaged
{
    private readonly T[] _array;
    private readonly int _offset;

    public AlignedBuffer(int length)
    {
        int alignElements = 64 / sizeof(T);
        // The pinned object heap never moves an array, so an offset computed once stays aligned.
        _array = GC.AllocateArray<T>(length + alignElements, pinned: true);
        fixed (T* p = _array)
        {
            int misalign = (int)(((nuint)p & 63) / (nuint)sizeof(T));
            _offset = misalign == 0 ? 0 : alignElements - misalign;
        }
        Length = length;
    }

    public int Length { get; }

    public Span<T> Span => _array.AsSpan(_offset, Length);

    /// <summary>Valid for the buffer's lifetime: the array is pinned.</summary>
    public T* Pointer => (T*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _array[_offset]);
}

/// <summary>Aligned float storage (packed fp32 weights, packing scratch).</summary>
internal sealed class AlignedBuffer(int length) : AlignedBuffer<float>(length);
