// Accuracy of a score on binary (0/1) pairs at a decision threshold, and the threshold that maximises it: the metric the
// CoSENT posts report for ATEC/BQ/LCQMC-style sets (threshold chosen on dev, applied to test). A pair is predicted
// positive when its score is at least the threshold.
namespace Semblance.Evaluation;

/// <summary>A threshold and the accuracy (×100) it gives on the pairs it was measured on.</summary>
public readonly record struct ThresholdResult(double Threshold, double Accuracy);

public static class ThresholdAccuracy
{
    /// <summary>Share ×100 of pairs where (score ≥ threshold) equals the label.</summary>
    public static double At(IReadOnlyList<double> scores, IReadOnlyList<bool> labels, double threshold)
    {
        Check(scores, labels);
        int correct = 0;
        for (int i = 0; i < scores.Count; i++)
            if (scores[i] >= threshold == labels[i]) correct++;
        return 100.0 * correct / scores.Count;
    }

    /// <summary>
    /// The threshold of highest accuracy on these pairs. Candidates are every cut between two adjacent distinct scores
    /// (the midpoint is returned, so a test score between them falls on the side it is nearer), plus "all positive"
    /// (the lowest score) and "all negative" (just above the highest); the first best in ascending order wins ties.
    /// </summary>
    public static ThresholdResult Best(IReadOnlyList<double> scores, IReadOnlyList<bool> labels)
    {
        Check(scores, labels);
        int n = scores.Count;
        var order = Enumerable.Range(0, n).OrderBy(i => scores[i]).ToArray();
        // Threshold at order[0]'s score: everything predicted positive, so the correct ones are the positives.
        int correct = labels.Count(l => l);
        int best = correct;
        double threshold = scores[order[0]];
        int start = 0;
        while (start < n)
        {
            int end = start;
            // Moving the cut above a group of equal scores turns that whole group negative.
            while (end < n && scores[order[end]] == scores[order[start]])
            {
                correct += labels[order[end]] ? -1 : 1;
                end++;
            }
            if (correct > best)
            {
                best = correct;
                threshold = end < n ? (scores[order[start]] + scores[order[end]]) / 2 : Math.BitIncrement(scores[order[start]]);
            }
            start = end;
        }
        return new ThresholdResult(threshold, 100.0 * best / n);
    }

    /// <summary>The 0/1 labels of gold scores; any other value is an error naming <paramref name="source"/>.</summary>
    public static bool[] BinaryLabels(IReadOnlyList<double> gold, string source)
    {
        var labels = new bool[gold.Count];
        for (int i = 0; i < gold.Count; i++)
            labels[i] = gold[i] switch
            {
                0 => false,
                1 => true,
                _ => throw new InputFormatException($"{source}: pair {i + 1} has label {gold[i].ToString(System.Globalization.CultureInfo.InvariantCulture)}; threshold accuracy needs 0/1 labels"),
            };
        return labels;
    }

    private static void Check(IReadOnlyList<double> scores, IReadOnlyList<bool> labels)
    {
        if (scores.Count != labels.Count) throw new ArgumentException($"{scores.Count} scores vs {labels.Count} labels");
        if (scores.Count == 0) throw new ArgumentException("no pairs");
    }
}
