// Owned vector memory: growing keeps the bytes written and zero-fills the rest, on small and on huge-page-sized regions.
using Semblance.Search;

namespace Semblance.Tests.Search;

public unsafe class NativeBufferTests
{
    [Theory]
    [InlineData(1000, 5000)]
    [InlineData(3 << 20, (5 << 20) + 7)]
    public void GrowingKeepsContentsAndZeroFills(int first, int second)
    {
        using var buffer = new NativeBuffer();
        buffer.Resize(first);
        for (int i = 0; i < first; i++) buffer.Pointer[i] = (byte)(i * 7 + 1);
        buffer.Resize(second);
        Assert.Equal(second, buffer.Length);
        Assert.Equal(0, (long)buffer.Pointer % 64);
        if (second >= 2 << 20 && OperatingSystem.IsLinux()) Assert.Equal(0, (long)buffer.Pointer % (2 << 20));
        for (int i = 0; i < first; i++) Assert.Equal((byte)(i * 7 + 1), buffer.Pointer[i]);
        for (int i = first; i < second; i++) Assert.Equal(0, buffer.Pointer[i]);
    }
}
