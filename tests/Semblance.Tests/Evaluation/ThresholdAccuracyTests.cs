// Tests for accuracy at a threshold and the dev-chosen best threshold, against hand-counted cases (ties included).
using Semblance.Evaluation;

namespace Semblance.Tests.Evaluation;

public class ThresholdAccuracyTests
{
    [Fact]
    public void At_CountsScoresAtOrAboveTheThresholdAsPositive()
    {
        double[] scores = [0.1, 0.4, 0.4, 0.9];
        bool[] labels = [false, true, false, true];
        Assert.Equal(75, ThresholdAccuracy.At(scores, labels, 0.4));     // predicts F T T T: 3 of 4
        Assert.Equal(75, ThresholdAccuracy.At(scores, labels, 0.5));     // predicts F F F T: 3 of 4
        Assert.Equal(50, ThresholdAccuracy.At(scores, labels, 0.0));     // all positive
    }

    [Fact]
    public void Best_SeparableScores_FindsTheMidpointCut()
    {
        var best = ThresholdAccuracy.Best([0.9, 0.2, 0.7, 0.3], [true, false, true, false]);
        Assert.Equal(100, best.Accuracy);
        Assert.Equal(0.5, best.Threshold, 12);
    }

    [Fact]
    public void Best_KeepsTiedScoresOnOneSideAndMatchesABruteForceSweep()
    {
        // Scores 2 (F), 2 (T), 2 (T), 5 (F), 7 (T), 7 (T): the tie at 2 cannot be split; cutting between 5 and 7 gives
        // F F F F T T → 4 of 6, cutting below everything gives all positive → 4 of 6 too; the first (lowest) wins.
        double[] scores = [2, 7, 2, 5, 2, 7];
        bool[] labels = [false, true, true, false, true, true];
        var best = ThresholdAccuracy.Best(scores, labels);
        Assert.Equal(400 / 6.0, best.Accuracy, 12);
        Assert.Equal(2, best.Threshold);
        Assert.Equal(best.Accuracy, ThresholdAccuracy.At(scores, labels, best.Threshold), 12);
        // No threshold does better than the chosen one.
        foreach (double t in new[] { 1.0, 2.0, 3.5, 5.0, 6.0, 7.0, 8.0 })
            Assert.True(ThresholdAccuracy.At(scores, labels, t) <= best.Accuracy);
    }

    [Fact]
    public void Best_AllNegativeLabels_PutsTheCutAboveTheHighestScore()
    {
        var best = ThresholdAccuracy.Best([0.3, 0.8, 0.5], [false, false, false]);
        Assert.Equal(100, best.Accuracy);
        Assert.True(best.Threshold > 0.8);
        Assert.Equal(100, ThresholdAccuracy.At([0.3, 0.8, 0.5], [false, false, false], best.Threshold));
    }

    [Fact]
    public void BinaryLabels_RejectsGradedScoresWithTheSource()
    {
        Assert.Equal([false, true, true], ThresholdAccuracy.BinaryLabels([0, 1, 1], "dev.tsv"));
        var e = Assert.Throws<InputFormatException>(() => ThresholdAccuracy.BinaryLabels([0, 3.5], "dev.tsv"));
        Assert.Contains("dev.tsv: pair 2 has label 3.5", e.Message);
    }
}
