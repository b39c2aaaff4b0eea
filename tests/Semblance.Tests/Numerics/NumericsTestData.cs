// Shared helpers for the numerics tests: seeded random data, the SIMD tiers this machine runs, double references.
using Semblance.Numerics;

namespace Semblance.Tests.Numerics;

internal static class NumericsTestData
{
    public static float[] Random(int length, int seed, float scale = 1f, float offset = 0f)
    {
        var rng = new Random(seed);
        var data = new float[length];
        for (int i = 0; i < length; i++) data[i] = offset + scale * (float)(rng.NextDouble() * 2 - 1);
        return data;
    }

    /// <summary>Names of every tier the hardware supports, so each forced path really runs its own code.</summary>
    public static TheoryData<string> SupportedLevels()
    {
        var data = new TheoryData<string>();
        foreach (var level in new[] { SimdLevel.Vector512, SimdLevel.Vector256, SimdLevel.Vector128, SimdLevel.Scalar })
            if (Simd.IsSupported(level)) data.Add(level.ToString());
        return data;
    }

    /// <summary>Forces the named tier on this thread until disposed.</summary>
    public static Simd.Scope Force(string level) => Simd.Force(Enum.Parse<SimdLevel>(level));

    /// <summary>Exact GELU in double via MathNet's erf (accurate to double precision).</summary>
    public static double Gelu(double x) => 0.5 * x * (1 + MathNet.Numerics.SpecialFunctions.Erf(x / Math.Sqrt(2)));

    public static double GeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    public static double Apply(Activation activation, double v) => activation switch
    {
        Activation.None => v,
        Activation.Gelu => Gelu(v),
        Activation.GeluTanh => GeluTanh(v),
        Activation.Relu => Math.Max(v, 0),
        Activation.Tanh => Math.Tanh(v),
        _ => throw new ArgumentOutOfRangeException(nameof(activation)),
    };
}
