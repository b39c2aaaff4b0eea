// Tests for the STS evaluator: cosines, whitening modes and dimension handling on synthetic vectors.
using Semblance.Embeddings;
using Semblance.Evaluation;

namespace Semblance.Tests.Evaluation;

public class StsEvaluatorTests
{
    // Sentence i has vector (1, i): pairs (0, j) get cosines falling with j; gold falls too.
    private static (StsDataset Data, float[] Vectors) Synthetic(int pairs)
    {
        var lines = Enumerable.Range(1, pairs).Select(j => $"s0\ts{j}\t{pairs - j}").ToList();
        var data = StsDataset.Parse(lines, "syn.tsv");
        var v = new float[data.Sentences.Count * 2];
        for (int i = 0; i < data.Sentences.Count; i++)
        {
            int id = int.Parse(data.Sentences[i][1..], System.Globalization.CultureInfo.InvariantCulture);
            v[2 * i] = 1;
            v[2 * i + 1] = id;
        }
        return (data, v);
    }

    // A whitening of d-dimensional vectors fitted on 10 fixed rows.
    private static Whitening SmallFit(int d)
    {
        var x = new float[10 * d];
        for (int i = 0; i < x.Length; i++) x[i] = (i * 7 % 11) + i % 3;
        return Whitening.Fit(x, 10, d);
    }

    [Fact]
    public void Cosines_AreExactAndRankPerfectly()
    {
        var (data, v) = Synthetic(6);
        var r = StsEvaluator.Evaluate(data, v, 2, "mean", StsWhitening.None, [0]);
        Assert.Single(r);
        Assert.Equal(1 / Math.Sqrt(2), r[0].Predicted[0], 6);
        Assert.Equal(100, r[0].Spearman, 9);
        Assert.Equal(new StsConfiguration("mean", "none", 2), r[0].Configuration);
    }

    [Fact]
    public void DimsWithoutWhitening_IsAnError()
    {
        var (data, v) = Synthetic(6);
        Assert.Throws<SemblanceException>(() => StsEvaluator.Evaluate(data, v, 2, "mean", StsWhitening.None, [1]));
    }

    [Fact]
    public void FitWhitening_CountsDuplicates_AndReducesDims()
    {
        var rng = new Random(3);
        var lines = Enumerable.Range(0, 40).Select(i => $"a{i % 10}\tb{i}\t{rng.Next(6)}").ToList();
        var data = StsDataset.Parse(lines, "syn.tsv");
        int d = 4;
        var v = new float[data.Sentences.Count * d];
        for (int i = 0; i < v.Length; i++) v[i] = (float)(rng.NextDouble() + (i % d) * 0.5);
        var r = StsEvaluator.Evaluate(data, v, d, "cls", StsWhitening.Fit, [0, 2]);
        Assert.Equal(2, r.Count);

        // The same fit by hand: every occurrence of both columns, duplicates included.
        var rows = new List<float>();
        for (int p = 0; p < data.Pairs.Count; p++)
        {
            rows.AddRange(v.AsSpan(data.Left[p] * d, d).ToArray());
            rows.AddRange(v.AsSpan(data.Right[p] * d, d).ToArray());
        }
        var w = Whitening.Fit(rows.ToArray(), rows.Count / d, d, 2);
        var y = new float[data.Sentences.Count * 2];
        w.Apply(v, y, data.Sentences.Count);
        var expected = StsEvaluator.Cosines(data, y, 2);
        for (int p = 0; p < expected.Length; p++) Assert.Equal(expected[p], r[1].Predicted[p], 5);
        Assert.Equal(100 * Correlation.Spearman(data.Gold, expected), r[1].Spearman, 6);
    }

    [Fact]
    public void SavedWhitening_OfWrongDimension_IsAnError()
    {
        var (data, v) = Synthetic(6);
        var w = SmallFit(3);
        var e = Assert.Throws<SemblanceException>(() => StsEvaluator.Evaluate(data, v, 2, "mean", new StsWhitening("w.safetensors", w), [0]));
        Assert.Equal("w.safetensors: the whitening expects 3-dimensional vectors but the encoder produces 2", e.Message);
    }

    [Fact]
    public void SavedWhitening_FittedUnderAnotherPooling_IsAnError()
    {
        var (data, v) = Synthetic(6);
        var fitted = SmallFit(2);
        var w = new Whitening(fitted.Mean.ToArray(), fitted.Kernel.ToArray(), fitted.OutputDimension, fitted.Count, fitted.ExplainedVariance) { Pooling = "cls" };
        var e = Assert.Throws<SemblanceException>(() => StsEvaluator.Evaluate(data, v, 2, "mean", new StsWhitening("w.safetensors", w), [0]));
        Assert.Equal("w.safetensors: the whitening was fitted on cls-pooled vectors but these are mean-pooled; refit it with --pooling mean or encode with --pooling cls", e.Message);

        // The same file under its own pooling, and a file without provenance (fitted on raw vectors), are accepted.
        Assert.Single(StsEvaluator.Evaluate(data, v, 2, "cls", new StsWhitening("w.safetensors", w), [0]));
        Assert.Single(StsEvaluator.Evaluate(data, v, 2, "mean", new StsWhitening("w.safetensors", fitted), [0]));
    }
}
