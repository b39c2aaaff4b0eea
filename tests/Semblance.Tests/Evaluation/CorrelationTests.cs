// Tests for Spearman/Pearson against hand-computed values, ties included.
using Semblance.Evaluation;

namespace Semblance.Tests.Evaluation;

public class CorrelationTests
{
    [Fact]
    public void Ranks_AverageTies()
    {
        Assert.Equal([1, 2.5, 2.5, 4], Correlation.Ranks([10, 20, 20, 30]));
        Assert.Equal([4, 2, 4, 4, 1], Correlation.Ranks([5, 1, 5, 5, 0]));
    }

    [Fact]
    public void Spearman_WithTies_MatchesHandComputation()
    {
        // ranks y = [1, 2, 3.5, 5, 3.5]; Σdxdy = 8, Σdx² = 10, Σdy² = 9.5 → 8/√95
        double rho = Correlation.Spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]);
        Assert.Equal(8 / Math.Sqrt(95), rho, 12);
        Assert.Equal(0.8207826816681233, rho, 12);
    }

    [Fact]
    public void Pearson_MatchesHandComputation()
    {
        // dx = [−1, 0, 1], dy = [−7/3, −1/3, 8/3]: Σdxdy = 5, Σdx² = 2, Σdy² = 114/9
        Assert.Equal(5 / Math.Sqrt(2 * 114 / 9.0), Correlation.Pearson([1, 2, 3], [2, 4, 7]), 12);
        Assert.Equal(-1, Correlation.Pearson([1, 2, 3], [3, 2, 1]), 12);
        Assert.True(double.IsNaN(Correlation.Pearson([1, 1, 1], [1, 2, 3])));
    }

    [Fact]
    public void Spearman_IsInvariantToMonotoneMaps()
    {
        double[] x = [0.1, 0.5, 0.2, 0.9, 0.3];
        Assert.Equal(1, Correlation.Spearman(x, x.Select(v => Math.Exp(5 * v)).ToArray()), 12);
    }
}
