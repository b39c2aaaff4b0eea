// Float storage that starts on a cache-line boundary, so 64-byte vector loads never straddle two lines.
namespace Semblance.Numerics;

/// <summary>A pinned array and the offset of its first 64-byte-aligned element.</summary>
internal sealed unsafe class AlignedBuffer
{
    private const int AlignFloats = 16;

    private readonly float[] _array;
    private readonly int _offset;

    public AlignedBuffer(int length)
    {
        // The pinned object heap never moves an array, so an offset computed once stays aligned.
        _array = GC.AllocateArray<float>(length + AlignFloats, pinned: true);
        fixed (float* p = _array)
        {
            int misalign = (int)(((nuint)p & 63) / sizeof(float));
            _offset = misalign == 0 ? 0 : AlignFloats - misalign;
        }
        Length = length;
    }

    public int Length { get; }

    public Span<float> Span => _array.AsSpan(_offset, Length);

    /// <summary>Valid for the buffer's lifetime: the array is pinned.</summary>
    public float* Pointer => (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _array[_offset]);
}
