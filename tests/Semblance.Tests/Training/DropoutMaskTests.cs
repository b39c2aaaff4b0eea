// The vectorised dropout-mask fill makes exactly the decisions of the scalar DropoutMask.Dropped.
using Semblance.Training.Autodiff;

namespace Semblance.Tests.Training;

public class DropoutMaskTests
{
    [Theory]
    [InlineData(0.1f)]
    [InlineData(0.5f)]
    [InlineData(0.3333333f)]
    [InlineData(0.9f)]
    [InlineData(1e-7f)]
    public void FillMatchesDroppedElementByElement(float p)
    {
        var rng = new Random(7);
        float keep = 1f / (1f - p);
        foreach (int length in new[] { 1, 7, 8, 9, 31, 384, 1000 })
        {
            ulong key = (ulong)rng.NextInt64();
            int site = rng.Next(0, 40);
            long first = rng.Next(0, 3) == 0 ? 0 : ((long)rng.Next(0, 12) << 32) + rng.Next(0, 5000);
            var mask = new float[length];
            DropoutMask.Fill(key, site, first, p, keep, mask);
            for (int i = 0; i < length; i++)
                Assert.Equal(DropoutMask.Dropped(key, site, first + i, p) ? 0f : keep, mask[i]);
        }
    }

    [Fact]
    public void FillDropsAboutTheRequestedShare()
    {
        var mask = new float[100_000];
        DropoutMask.Fill(12345, 3, 0, 0.1f, 1f / 0.9f, mask);
        double dropped = mask.Count(v => v == 0f) / (double)mask.Length;
        Assert.InRange(dropped, 0.095, 0.105);
    }
}
