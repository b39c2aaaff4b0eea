// Finite-difference gradient checking for tape operations: central differences of a random projection of the output.
using Semblance.Training.Autodiff;

namespace Semblance.Tests.Training;

internal static class GradientCheck
{
    public static float[] Random(int n, int seed, double scale = 1.0)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return x;
    }

    public static Tensor Leaf(int rows, int cols, int seed, double scale = 1.0) => new(Random(rows * cols, seed, scale), rows, cols, requiresGrad: true);

    /// <summary>
    /// Compares the tape's gradient of L = Σ w·f(inputs) (w fixed random weights) with central differences
    /// (L(x + ε) − L(x − ε))/2ε computed in double from float forward passes, for every element of every input.
    /// </summary>
    public static void Check(Func<Tape, Tensor> f, Tensor[] inputs, double eps = 1e-2, double tolerance = 2e-3)
    {
        var tape = new Tape();
        var y = f(tape);
        var w = Random(y.Length, 12345);
        foreach (var t in inputs) t.ZeroGrad();
        tape.Backward(y, w);
        double maxGrad = inputs.Max(t => t.Grad is null ? 0 : t.Grad.Max(v => Math.Abs(v)));
        Assert.True(maxGrad > 0, "every gradient is zero; the check would be vacuous");
        for (int n = 0; n < inputs.Length; n++)
        {
            var x = inputs[n];
            var analytic = x.Grad ?? new float[x.Length];
            for (int i = 0; i < x.Length; i++)
            {
                float saved = x.Data[i];
                x.Data[i] = (float)(saved + eps);
                double plus = Objective(f, w);
                x.Data[i] = (float)(saved - eps);
                double minus = Objective(f, w);
                x.Data[i] = saved;
                double numeric = (plus - minus) / (2 * eps);
                double error = Math.Abs(numeric - analytic[i]);
                Assert.True(error <= tolerance * (1 + maxGrad), $"input {n} element {i}: analytic {analytic[i]}, numeric {numeric} (error {error}, largest gradient {maxGrad})");
            }
        }
    }

    private static double Objective(Func<Tape, Tensor> f, float[] w)
    {
        var y = f(new Tape(recording: false));
        double sum = 0;
        for (int i = 0; i < y.Length; i++) sum += (double)w[i] * y.Data[i];
        return sum;
    }
}
