// Ordering sequences for a batched recurrence: longest first, ties in index order.
using Semblance.Numerics;

namespace Semblance.Tests.Numerics;

public class RecurrentTests
{
    [Fact]
    public void LongestFirstIsStableAndPutsRunningSequencesInAPrefix()
    {
        int[] offsets = [0, 2, 7, 9, 14, 15, 17];   // lengths 2, 5, 2, 5, 1, 2
        var order = new int[6];
        Recurrent.LongestFirst(offsets, order);
        Assert.Equal([1, 3, 0, 2, 5, 4], order);
        Assert.Throws<ArgumentException>(() => Recurrent.LongestFirst(offsets, new int[5]));
    }
}
