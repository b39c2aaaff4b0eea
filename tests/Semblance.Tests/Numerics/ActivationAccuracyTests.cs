// Accuracy of the vectorised erf, exact GELU and tanh-GELU on every SIMD tier, against double references.
using Semblance.Numerics;

namespace Semblance.Tests.Numerics;

public class ActivationAccuracyTests
{
    public static TheoryData<string> Levels => NumericsTestData.SupportedLevels();

    /// <summary>A dense grid over [−12, 12] plus the region boundaries and special values.</summary>
    private static float[] Grid()
    {
        var values = new List<float>();
        for (int i = -240_000; i <= 240_000; i++) values.Add(i * 5e-5f);
        float sqrt2 = MathF.Sqrt(2);
        foreach (float b in new[] { 1f, 9f, sqrt2, 9 * sqrt2 })
            foreach (float s in new[] { -1f, 1f })
            {
                values.Add(s * b);
                values.Add(s * MathF.BitIncrement(b));
                values.Add(s * MathF.BitDecrement(b));
            }
        values.AddRange([0f, -0f, 1e-30f, -1e-30f, 30f, -30f, 1e6f, -1e6f]);
        return values.ToArray();
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void ErfAbsoluteErrorBelow1e7(string level)
    {
        var x = Grid();
        var y = new float[x.Length];
        using (NumericsTestData.Force(level)) Kernels.Erf(x, y);
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
            worst = Math.Max(worst, Math.Abs(y[i] - MathNet.Numerics.SpecialFunctions.Erf(x[i])));
        Assert.True(worst <= 1e-7, $"max |erf error| = {worst:E3}");
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void GeluMatchesErfDefinition(string level)
    {
        var x = Grid();
        var y = new float[x.Length];
        using (NumericsTestData.Force(level)) Kernels.Gelu(x, y);
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double reference = NumericsTestData.Gelu(x[i]);
            worst = Math.Max(worst, Math.Abs(y[i] - reference) / Math.Max(1, Math.Abs(reference)));
        }
        Assert.True(worst <= 1.5e-7, $"max GELU error (absolute, relative above 1) = {worst:E3}");
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void GeluIsRelativelyAccurateInTheNegativeTail(string level)
    {
        float[] x = [-2f, -3f, -4f, -5f, -6f, -8f, -10f, -12f];
        var y = new float[x.Length];
        using (NumericsTestData.Force(level)) Kernels.Gelu(x, y);
        for (int i = 0; i < x.Length; i++)
        {
            double reference = 0.5 * x[i] * MathNet.Numerics.SpecialFunctions.Erfc(-x[i] / Math.Sqrt(2));
            Assert.True(Math.Abs(y[i] - reference) <= 1e-6 * Math.Abs(reference), $"GELU({x[i]}) = {y[i]:E6}, expected {reference:E6}");
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void GeluTanhMatchesDefinition(string level)
    {
        var x = Grid();
        var y = new float[x.Length];
        using (NumericsTestData.Force(level)) Kernels.GeluTanh(x, y);
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double reference = NumericsTestData.GeluTanh(x[i]);
            worst = Math.Max(worst, Math.Abs(y[i] - reference) / Math.Max(1, Math.Abs(reference)));
        }
        Assert.True(worst <= 2e-7, $"max GELU-tanh error = {worst:E3}");
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void SpecialValues(string level)
    {
        float[] x = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f];
        var erf = new float[4];
        var gelu = new float[4];
        using (NumericsTestData.Force(level))
        {
            Kernels.Erf(x, erf);
            Kernels.Gelu(x, gelu);
        }
        Assert.True(float.IsNaN(erf[0]));
        Assert.Equal(1f, erf[1]);
        Assert.Equal(-1f, erf[2]);
        Assert.Equal(0f, erf[3]);
        Assert.True(float.IsNaN(gelu[0]));
        Assert.Equal(float.PositiveInfinity, gelu[1]);
        Assert.Equal(0f, gelu[3]);
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void RaggedLengthsAndInPlace(string level)
    {
        foreach (int n in new[] { 1, 7, 15, 16, 17, 31, 33 })
        {
            var x = NumericsTestData.Random(n, n, 4f);
            var expected = new float[n];
            var inPlace = (float[])x.Clone();
            using (NumericsTestData.Force(level))
            {
                Kernels.Gelu(x, expected);
                Kernels.Gelu(inPlace, inPlace);
            }
            Assert.Equal(expected, inPlace);
            for (int i = 0; i < n; i++) Assert.Equal(NumericsTestData.Gelu(x[i]), expected[i], 1e-6);
        }
    }
}
