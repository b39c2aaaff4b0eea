// `--loss simbert` (UniLM mask on the tape, tied masked-LM head, in-batch [CLS] contrast) against the PyTorch twin in
// float64 (fixtures made by tools/gradients/make_simbert_fixtures.py).
using System.Text.Json;
using Semblance.Models;
using Semblance.Tests.Models;
using Semblance.Training;
using Semblance.Training.Autodiff;

namespace Semblance.Tests.Training;

public class SimBertGradientTests
{
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Training", "Fixtures", "simbert");

    private static (List<int[]> First, List<int[]> Second, float Scale, float[] Teacher) Batch()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "batch.json")));
        List<int[]> Column(string name) => json.RootElement.GetProperty(name).EnumerateArray()
            .Select(s => s.EnumerateArray().Select(t => t.GetInt32()).ToArray()).ToList();
        return (Column("first"), Column("second"), json.RootElement.GetProperty("scale").GetSingle(),
            json.RootElement.GetProperty("teacher").EnumerateArray().Select(v => v.GetSingle()).ToArray());
    }

    [Theory]
    [InlineData("simbert", false)]
    [InlineData("simbert-distill", true)]
    public void LossAndGradientsMatchPyTorch(string file, bool distill)
    {
        var model = TrainableTransformer.LoadWithMaskedLmHead(Dir, seed: 1, out bool initialized);
        Assert.False(initialized);
        var (first, second, scale, teacher) = Batch();
        var tape = new Tape();
        var value = new SimBertLoss(scale).Compute(tape, model, first, second, dropoutKeys: null, teacher: distill ? teacher : null);
        tape.Backward(value.Total.Objective);
        Assert.Equal(distill, value.Distillation > 0);

        var reference = SafeTensorsContent.Read(Path.Combine(Dir, file + ".safetensors"));
        foreach (var (name, got) in new[] { ("loss", value.Total.Reported), ("generation", value.Generation), ("similarity", value.Similarity) })
        {
            float expected = reference.Get(name, 1)[0];
            Assert.True(Math.Abs(got - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"{name} {got} vs torch {expected}");
        }
        float largest = 0, worst = 0;
        string worstName = "";
        foreach (var parameter in model.Parameters.Where(p => p.RequiresGrad))
        {
            var expected = reference.Get("grad." + parameter.Name, parameter.Shape);
            largest = Math.Max(largest, expected.Max(Math.Abs));
            float error = Compare.MaxAbs(parameter.Grad ?? new float[expected.Length], expected);
            if (error > worst) (worst, worstName) = (error, parameter.Name);
        }
        Assert.True(largest > 0.1f, "the reference gradients are all near zero");
        Assert.True(worst <= 1e-5 * largest, $"{worstName}: {worst} vs largest {largest}");
    }

    [Fact]
    public void TheTapeAttendsUnderTheUniLmMaskAsInferenceDoes()
    {
        // The target's first token must not see later target tokens: changing the last token leaves earlier rows alone.
        var model = TrainableTransformer.LoadWithMaskedLmHead(Dir, seed: 1, out _);
        var (first, second, _, _) = Batch();
        var packed = SimBertLoss.Pack(first, second, model.MaxPositions, SimBertOptions.None);
        var changed = (int[])packed.Batch.Ids.Clone();
        int last = packed.Batch.Offsets[1] - 2;
        changed[last] = changed[last] == 5 ? 6 : 5;
        var other = new TokenBatch(changed, packed.Batch.TypeIds, packed.Batch.Offsets) { UsesSeq2SeqMask = true };
        var a = model.Forward(new Tape(recording: false), packed.Batch).Last;
        var b = model.Forward(new Tape(recording: false), other).Last;
        int h = model.Config.HiddenSize;
        Assert.Equal(a.Data.AsSpan(0, last * h).ToArray(), b.Data.AsSpan(0, last * h).ToArray());
        Assert.NotEqual(a.Data.AsSpan(last * h, h).ToArray(), b.Data.AsSpan(last * h, h).ToArray());
    }

    [Fact]
    public void PackingPredictsEveryTargetTokenAndTheFinalSep()
    {
        var packed = SimBertLoss.Pack([[2, 7, 8, 3]], [[2, 9, 3]], 16, SimBertOptions.None);
        Assert.Equal(new[] { 2, 7, 8, 3, 9, 3, 2, 9, 3, 7, 8, 3 }, packed.Batch.Ids);
        Assert.Equal(new[] { 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1 }, packed.Batch.TypeIds);
        Assert.True(packed.Batch.UsesSeq2SeqMask);
        Assert.Equal(new[] { 3, 4, 8, 9, 10 }, packed.PredictingRows);
        Assert.Equal(new[] { 9, 3, 7, 8, 3 }, packed.NextTokens);
    }

    [Fact]
    public void CorruptionMasksOrDeletesSourceTokensOnly()
    {
        var source = Enumerable.Range(10, 30).Prepend(2).Append(3).ToArray();
        var options = new SimBertOptions(0.5, MaskId: 4, Key: 99);
        var corrupted = options.Corrupt(source, row: 0, direction: 0);
        Assert.Equal(2, corrupted[0]);
        Assert.Equal(3, corrupted[^1]);
        Assert.True(corrupted.Length < source.Length, "some tokens are deleted");
        Assert.Contains(4, corrupted);
        Assert.Equal(corrupted, options.Corrupt(source, 0, 0));
        Assert.Same(source, SimBertOptions.None.Corrupt(source, 0, 0));
    }
}
