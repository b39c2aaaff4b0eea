// AdamW (Loshchilov and Hutter, 2019, "Decoupled Weight Decay Regularization") with global-norm gradient clipping.
using System.Numerics;
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>
/// Per parameter, with gradient g at step t (from 1) and learning rate η_t:
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − η_t·λθ − η_t·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε).
/// The decay λθ is applied to the weights directly (decoupled from the adaptive step), and not at all to biases and
/// LayerNorm parameters (the usual BERT parameter groups). Parameters without a gradient this step are skipped.
/// </summary>
internal sealed class AdamW
{
    private readonly Dictionary<string, (float[] M, float[] V)> _state = new(StringComparer.Ordinal);
    private readonly Func<Parameter, double>? _learningRateFactor;

    /// <param name="learningRateFactor">Per parameter, the multiple of the scheduled learning rate it is updated with
    /// (null = 1 for all); e.g. a larger rate for a freshly initialised head.</param>
    public AdamW(IEnumerable<Parameter> parameters, double weightDecay = 0.01, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-6,
        Func<Parameter, double>? learningRateFactor = null)
    {
        Parameters = parameters.Where(p => p.RequiresGrad).ToList();
        _learningRateFactor = learningRateFactor;
        WeightDecay = weightDecay;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
    }

    public IReadOnlyList<Parameter> Parameters { get; }

    public double WeightDecay { get; }

    public double Beta1 { get; }

    public double Beta2 { get; }

    public double Epsilon { get; }

    /// <summary>The token-embedding table: a transformer's <c>embeddings.word_embeddings.weight</c>, the GRU's <c>embeddings.weight</c>.</summary>
    public static bool IsTokenEmbedding(Parameter p) =>
        p.Name is "embeddings.word_embeddings.weight" or "embeddings.weight";

    /// <summary>Optimizer steps taken so far (the t of the bias correction).</summary>
    public long Step { get; private set; }

    /// <summary>Bias and LayerNorm parameters are not decayed.</summary>
    public static bool Decays(Parameter p) =>
        !(p.Name.EndsWith(".bias", StringComparison.Ordinal) || p.Name.Contains("LayerNorm", StringComparison.Ordinal) || p.Shape.Length == 1);

    /// <summary>‖g‖₂ over every parameter gradient, accumulated in double.</summary>
    public double GradientNorm()
    {
        double sum = 0;
        foreach (var p in Parameters)
            if (p.Grad is { } g) sum += System.Numerics.Tensors.TensorPrimitives.SumOfSquares(g);
        return Math.Sqrt(sum);
    }

    /// <summary>Scales all gradients by max_norm/‖g‖ when ‖g‖ exceeds it; returns the norm before clipping.</summary>
    public double ClipGradientNorm(double maxNorm)
    {
        double norm = GradientNorm();
        if (maxNorm > 0 && norm > maxNorm)
        {
            float scale = (float)(maxNorm / (norm + 1e-6));
            foreach (var p in Parameters)
                if (p.Grad is { } g) System.Numerics.Tensors.TensorPrimitives.Multiply(g, scale, g);
        }
        return norm;
    }

    /// <summary>One update with learning rate <paramref name="learningRate"/>; gradients are left for the caller to zero.</summary>
    public void Update(double learningRate)
    {
        Step++;
        double c1 = 1 - Math.Pow(Beta1, Step), c2 = 1 - Math.Pow(Beta2, Step);
        float b1 = (float)Beta1, b2 = (float)Beta2;
        foreach (var p in Parameters)
        {
            if (p.Grad is not { } g) continue;
            if (!_state.TryGetValue(p.Name, out var s))
            {
                s = (new float[p.Length], new float[p.Length]);
                _state[p.Name] = s;
            }
            double rate = learningRate * (_learningRateFactor?.Invoke(p) ?? 1.0);
            float decay = Decays(p) ? (float)(rate * WeightDecay) : 0f;
            float stepSize = (float)(rate / c1);
            float rootC2 = (float)Math.Sqrt(c2), eps = (float)Epsilon;
            Apply(p.Data, g, s.M, s.V, b1, b2, 1f - decay, stepSize, rootC2, eps);
            p.MarkUpdated();
        }
    }

    /// <summary>
    /// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w·(1 − ηλ) − (η/c₁)·m/(√v/√c₂ + ε); SIMD over the bulk, scalar tail,
    /// the same operations in the same order in both.
    /// </summary>
    private static void Apply(float[] w, float[] g, float[] m, float[] v, float b1, float b2, float keep, float stepSize, float rootC2, float eps)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vb1 = new Vector<float>(b1);
            var vb2 = new Vector<float>(b2);
            var va1 = new Vector<float>(1 - b1);
            var va2 = new Vector<float>(1 - b2);
            var vKeep = new Vector<float>(keep);
            var vStep = new Vector<float>(stepSize);
            var vRoot = new Vector<float>(rootC2);
            var vEps = new Vector<float>(eps);
            for (; i <= w.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var gi = new Vector<float>(g, i);
                var mi = vb1 * new Vector<float>(m, i) + va1 * gi;
                var vi = vb2 * new Vector<float>(v, i) + va2 * (gi * gi);
                var wi = new Vector<float>(w, i) * vKeep;
                wi -= vStep * mi / (Vector.SquareRoot(vi) / vRoot + vEps);
                mi.CopyTo(m, i);
                vi.CopyTo(v, i);
                wi.CopyTo(w, i);
            }
        }
        for (; i < w.Length; i++)
        {
            float gi = g[i];
            m[i] = b1 * m[i] + (1 - b1) * gi;
            v[i] = b2 * v[i] + (1 - b2) * (gi * gi);
            w[i] = w[i] * keep;
            w[i] -= stepSize * m[i] / (MathF.Sqrt(v[i]) / rootC2 + eps);
        }
    }

    /// <summary>The moment estimates by parameter name, for checkpoints.</summary>
    public IEnumerable<(string Name, float[] M, float[] V)> State => _state.Select(kv => (kv.Key, kv.Value.M, kv.Value.V));

    /// <summary>Restores the step count and moments written by <see cref="State"/>.</summary>
    public void Restore(long step, IEnumerable<(string Name, float[] M, float[] V)> state)
    {
        var byName = Parameters.ToDictionary(p => p.Name, StringComparer.Ordinal);
        _state.Clear();
        foreach (var (name, m, v) in state)
        {
            if (!byName.TryGetValue(name, out var p) || m.Length != p.Length || v.Length != p.Length)
                throw new ModelFormatException($"optimizer state for '{name}' does not match the model's parameters");
            _state[name] = (m, v);
        }
        Step = step;
    }
}
