// The building blocks of every network, each with its two executions: inference on spans (packed weights, fused
// epilogues, no tape) and recording on the autodiff tape. Parameters are held once, by their checkpoint names.
using Semblance.Numerics;
using Semblance.Training.Autodiff;

namespace Semblance.Models;

/// <summary>
/// One tensor of a module under its model name (e.g. <c>encoder.layer.0.attention.self.query.weight</c>). Inference
/// reads the checkpoint's values (a mapped view); training calls <see cref="Trainable"/>, which makes a float32 copy
/// on the autodiff tape once — from then on both executions and saving read that copy.
/// </summary>
internal sealed class ModelParameter
{
    private FloatTensor? _source;
    private Parameter? _trainable;
    private readonly bool _requiresGrad;

    public ModelParameter(string name, FloatTensor source, bool requiresGrad = true)
    {
        Name = name;
        Shape = source.Shape;
        _source = source;
        _requiresGrad = requiresGrad;
    }

    public string Name { get; }

    public int[] Shape { get; }

    /// <summary>Whether training updates it (false for buffers such as RoFormer's sinusoidal table).</summary>
    public bool RequiresGrad => _requiresGrad;

    public ReadOnlySpan<float> Span => _trainable is { } p ? p.Data
        : (_source ?? throw new InvalidOperationException($"{Name}: released after packing; this model is inference-only")).Span;

    /// <summary>Row <paramref name="index"/> of a [rows, cols] tensor.</summary>
    public ReadOnlySpan<float> Row(int index) => Span.Slice(index * Shape[^1], Shape[^1]);

    /// <summary>Row <paramref name="index"/> into <paramref name="destination"/>; a 16-bit checkpoint tensor is widened
    /// row by row (an embedding table never gets a float32 copy).</summary>
    public void CopyRow(int index, Span<float> destination)
    {
        if (_trainable is null && _source is { } source) source.CopyRow(index, destination);
        else Row(index).CopyTo(destination);
    }

    /// <summary>The checkpoint tensor while it is held (not yet trainable or released), to read its stored bits.</summary>
    internal FloatTensor? Stored => _trainable is null ? _source : null;

    /// <summary>The tape's parameter: a float32 copy made on first use (the checkpoint view is dropped then).</summary>
    public Parameter Trainable
    {
        get
        {
            if (_trainable is null)
            {
                _trainable = new Parameter(Name, Shape, _source!.Span.ToArray(), _requiresGrad);
                _source = null;
            }
            return _trainable;
        }
    }

    /// <summary>
    /// Drops the values once an inference-only model has packed them, so a float32 copy made from an F16/BF16 view
    /// (<see cref="FloatTensor.Span"/>) is not kept beside the packed one (a mapped view costs nothing either way).
    /// </summary>
    public void Release()
    {
        if (_trainable is null) _source = null;
    }

    /// <summary>Makes the float32 copy now, so the checkpoint it came from may be closed.</summary>
    public void Own() => _ = Trainable;

    public static ModelParameter Load(WeightView w, string name, params int[] shape) => new(w.ModelName(name), w.Get(name, shape));
}

/// <summary>The state of one recording pass: the tape, the batch, and dropout (on only when keys are given).</summary>
internal sealed class TapePass(Tape tape, TokenBatch batch, ulong[]? rowKeys, ulong[]? sequenceKeys, float hiddenDropout, float attentionDropout)
{
    public Tape Tape => tape;

    public TokenBatch Batch => batch;

    public ulong[]? SequenceKeys => sequenceKeys;

    public float AttentionDropout => attentionDropout;

    /// <summary>hidden_dropout_prob at dropout site <paramref name="site"/> (sites number the dropout layers in order).</summary>
    public Tensor Dropout(Tensor x, int site) => tape.Dropout(x, hiddenDropout, rowKeys, site);

    /// <summary>hidden_dropout_prob on a [sequences, H] tensor (one row per sequence, as a head sees it), keyed by the sequence keys.</summary>
    public Tensor SequenceDropout(Tensor x, int site) => tape.Dropout(x, hiddenDropout, sequenceKeys, site);
}

/// <summary>y = x·Wᵀ + b with W stored [out, in] in the checkpoint; inference packs W once (<see cref="Pack"/>).</summary>
internal sealed class Linear
{
    private readonly ModelParameter? _weight;
    private readonly ModelParameter _bias;
    private PackedWeight? _packed;
    private QuantizedWeight? _quantized;

    private Linear(ModelParameter? weight, ModelParameter bias, int outFeatures, int inFeatures)
    {
        _weight = weight;
        _bias = bias;
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
    }

    public int OutFeatures { get; }

    public int InFeatures { get; }

    public IEnumerable<ModelParameter> Parameters => [Weight, _bias];

    private ModelParameter Weight => _weight ?? throw new InvalidOperationException($"{_bias.Name}: a stacked Linear keeps only its packed weight");

    public static Linear Load(WeightView w, int outFeatures, int inFeatures) =>
        new(ModelParameter.Load(w, "weight", outFeatures, inFeatures), ModelParameter.Load(w, "bias", outFeatures), outFeatures, inFeatures);

    /// <summary>A Linear over parameters stored under different names (a decoder tied to the word embeddings).</summary>
    public static Linear Of(ModelParameter weight, ModelParameter bias) => new(weight, bias, weight.Shape[0], weight.Shape[1]);

    /// <summary>
    /// Prepares the inference-only execution: packs W for the GEMM micro-kernel (float32, or quantised to int8 per
    /// output channel), then lets go of the unpacked values (see <see cref="ModelParameter.Release"/>).
    /// </summary>
    /// <param name="inputNorm">For int8: the LayerNorm whose output this Linear reads, if any; its |γ| + |β| estimates
    /// each input channel's range, and the weight is smoothed by it (<see cref="SmoothingFactors"/>).</param>
    public void Pack(WeightPrecision precision = WeightPrecision.Fp32, LayerNorm? inputNorm = null)
    {
        PackValues(Weight.Stored is { Format: not WeightFormat.Float32 } stored ? stored : new FloatTensor(Weight.Name, Weight.Shape, Weight.Span), precision, inputNorm);
        Weight.Release();
    }

    /// <summary>
    /// At int8, how many of each activation row's largest |x| skip the codes and are multiplied in float32
    /// (<see cref="QuantizedWeight.Quantize"/>). all-MiniLM-L6-v2 with every Linear int8, min cosine to float32 over
    /// the STS-B test sentences: 0 → 0.9935, 2 → 0.9970, 4 → 0.9972, 8 → 0.9973; each costs ~1% of the product.
    /// </summary>
    internal const int Int8RowOutliers = 4;

    /// <summary>
    /// fp32: float32 panels (a 16-bit tensor widened straight into them); fp16/bf16: 16-bit panels, the stored bits when
    /// the tensor is in that format, else rounded to it; int8: quantised from the float values.
    /// </summary>
    private void PackValues(FloatTensor weight, WeightPrecision precision, LayerNorm? inputNorm)
    {
        var format = precision.Format();
        if (precision == WeightPrecision.Int8)
        {
            var values = weight.Span;
            _quantized = QuantizedWeight.Quantize(values, OutFeatures, InFeatures, inputNorm is null ? default : SmoothingFactors(values, inputNorm.OutputRange()),
                Int8RowOutliers);
        }
        else if (weight.Format == WeightFormat.Float32 && format == WeightFormat.Float32)
            _packed = PackedWeight.Pack(weight.Span, OutFeatures, InFeatures);
        else if (weight.Format == format || format == WeightFormat.Float32)
            _packed = PackedWeight.Pack(weight.Bits16, weight.Format, OutFeatures, InFeatures, widen: format == WeightFormat.Float32);
        else
        {
            var values = weight.Span;
            var bits = new ushort[values.Length];
            for (int i = 0; i < bits.Length; i++) bits[i] = HalfFloats.Narrow(format, values[i]);
            _packed = PackedWeight.Pack(bits, format, OutFeatures, InFeatures, widen: false);
        }
    }

    /// <summary>
    /// SmoothQuant's factors with α = 1/2, s[k] = √(range of input k / max_o |W[o, k]|), the input's range estimated
    /// from its LayerNorm instead of calibration data: BERT's few outlier hidden dimensions are the LayerNorm's large
    /// γ/β entries, and without smoothing they set every token row's int8 step (MiniLM-L6 STS-B sentences: cosine
    /// to float32 down to 0.98). A zero range or column keeps s = 1.
    /// </summary>
    private float[] SmoothingFactors(ReadOnlySpan<float> weight, float[] inputRange)
    {
        var factors = new float[InFeatures];
        for (int k = 0; k < InFeatures; k++)
        {
            float column = 0;
            for (int o = 0; o < OutFeatures; o++) column = Math.Max(column, Math.Abs(weight[o * InFeatures + k]));
            float s = MathF.Sqrt(inputRange[k] / column);
            factors[k] = float.IsFinite(s) && s > 0 ? s : 1f;
        }
        return factors;
    }

    /// <summary>
    /// An inference-only Linear computing several that read the same input (query, key, value): their weights
    /// stacked along the output dimension, so one GEMM pass replaces three. Only the packed copy is kept.
    /// </summary>
    public static Linear Stack(string name, WeightPrecision precision, params Linear[] parts)
    {
        int inFeatures = parts[0].InFeatures, total = parts.Sum(p => p.OutFeatures);
        // 16-bit parts of one format stay 16-bit while stacked: no float32 copy of the three weights.
        var format16 = parts[0].Weight.Stored?.Format ?? WeightFormat.Float32;
        if (parts.Any(p => (p.Weight.Stored?.Format ?? WeightFormat.Float32) != format16)) format16 = WeightFormat.Float32;
        var stacked = format16 == WeightFormat.Float32 ? new float[total * inFeatures] : null;
        var stacked16 = format16 == WeightFormat.Float32 ? null : new ushort[total * inFeatures];
        var bias = new float[total];
        int row = 0;
        foreach (var part in parts)
        {
            if (stacked16 is not null) part.Weight.Stored!.Bits16.CopyTo(stacked16.AsSpan(row * inFeatures));
            else part.Weight.Span.CopyTo(stacked.AsSpan(row * inFeatures));
            part._bias.Span.CopyTo(bias.AsSpan(row));
            part.Weight.Release();
            row += part.OutFeatures;
        }
        var linear = new Linear(null, new ModelParameter(name + ".bias", new FloatTensor(name + ".bias", [total], bias)), total, inFeatures);
        linear.PackValues(stacked16 is null ? new FloatTensor(name + ".weight", [total, inFeatures], stacked!) : new FloatTensor(name + ".weight", [total, inFeatures], stacked16, format16), precision, null);
        return linear;
    }

    private PackedWeight Packed => _packed ?? throw new InvalidOperationException($"{Weight.Name}: Pack() was not called before the inference forward");

    public void Forward(ReadOnlySpan<float> x, int rows, Span<float> y, ComputeContext ctx)
    {
        if (_quantized is { } q) Gemm.Linear(x, rows, q, _bias.Span, y, ctx);
        else Gemm.Linear(x, rows, Packed, _bias.Span, y, ctx);
    }

    /// <summary>y = epilogue(x·Wᵀ + b), the activation applied in the product's epilogue while the tile is in cache.</summary>
    public void Forward(ReadOnlySpan<float> x, int rows, Numerics.Activation epilogue, Span<float> y, ComputeContext ctx)
    {
        if (_quantized is { } q) Gemm.Linear(x, rows, q, _bias.Span, epilogue, y, ctx);
        else Gemm.Linear(x, rows, Packed, _bias.Span, epilogue, y, ctx);
    }

    /// <summary>y = (x·Wᵀ + b) + residual, the skip connection added in the product's epilogue.</summary>
    public void Forward(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> residual, Span<float> y, ComputeContext ctx)
    {
        if (_quantized is { } q) Gemm.Linear(x, rows, q, _bias.Span, residual[..(rows * OutFeatures)], y, ctx);
        else Gemm.Linear(x, rows, Packed, _bias.Span, residual[..(rows * OutFeatures)], y, ctx);
    }

    /// <summary>The recording execution.</summary>
    public Tensor Forward(Tape tape, Tensor x) => tape.Linear(x, Weight.Trainable, _bias.Trainable);
}

/// <summary>y = (x − μ)/√(σ² + eps)·γ + β over the last dimension.</summary>
internal sealed class LayerNorm
{
    private readonly ModelParameter _weight;
    private readonly ModelParameter _bias;
    private readonly float _eps;

    private LayerNorm(ModelParameter weight, ModelParameter bias, float eps)
    {
        _weight = weight;
        _bias = bias;
        _eps = eps;
    }

    public int Size => _weight.Shape[0];

    public IEnumerable<ModelParameter> Parameters => [_weight, _bias];

    /// <summary>|γ[k]| + |β[k]|: the scale of output channel k (the normalised input has unit variance).</summary>
    public float[] OutputRange()
    {
        var range = new float[Size];
        for (int k = 0; k < Size; k++) range[k] = Math.Abs(_weight.Span[k]) + Math.Abs(_bias.Span[k]);
        return range;
    }

    public static LayerNorm Load(WeightView w, int size, double eps) =>
        new(ModelParameter.Load(w, "weight", size), ModelParameter.Load(w, "bias", size), (float)eps);

    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, ComputeContext ctx) =>
        Kernels.LayerNorm(x[..(rows * Size)], _weight.Span, _bias.Span, _eps, y[..(rows * Size)], rows, Size, ctx);

    public Tensor Forward(Tape tape, Tensor x) => tape.LayerNorm(x, _weight.Trainable, _bias.Trainable, _eps);
}

/// <summary>LayerNorm(dense(x) + residual): the tail of the attention block and of the feed-forward block.</summary>
internal sealed class DenseResidualNorm(Linear dense, LayerNorm layerNorm)
{
    private readonly Linear _dense = dense;
    private readonly LayerNorm _layerNorm = layerNorm;

    public IEnumerable<ModelParameter> Parameters => _dense.Parameters.Concat(_layerNorm.Parameters);

    public static DenseResidualNorm Load(WeightView w, int inFeatures, TransformerConfig c) => new(
        Linear.Load(w.Prefix("dense"), c.HiddenSize, inFeatures),
        LayerNorm.Load(w.Prefix("LayerNorm"), c.HiddenSize, c.LayerNormEps));

    public void Pack(WeightPrecision precision = WeightPrecision.Fp32) => _dense.Pack(precision);

    /// <summary>The LayerNorm that produces this block's output.</summary>
    public LayerNorm Norm => _layerNorm;

    public void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> residual, Span<float> sum, Span<float> output, int rows, ComputeContext ctx)
    {
        _dense.Forward(x, rows, residual, sum, ctx);
        _layerNorm.Forward(sum, output, rows, ctx);
    }

    /// <summary>LayerNorm(dropout(dense(x)) + residual), hidden dropout at <paramref name="site"/>.</summary>
    public Tensor Forward(TapePass pass, Tensor x, Tensor residual, int site) =>
        _layerNorm.Forward(pass.Tape, pass.Tape.Add(pass.Dropout(_dense.Forward(pass.Tape, x), site), residual));
}

internal static class HiddenActivations
{
    /// <summary>The GEMM epilogue that computes <paramref name="kind"/>.</summary>
    public static Numerics.Activation ToEpilogue(this HiddenActivation kind) => kind switch
    {
        HiddenActivation.Gelu => Numerics.Activation.Gelu,
        HiddenActivation.GeluTanh => Numerics.Activation.GeluTanh,
        HiddenActivation.Relu => Numerics.Activation.Relu,
        HiddenActivation.Tanh => Numerics.Activation.Tanh,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
