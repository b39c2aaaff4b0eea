// A float32 matrix of the training graph: values, a lazily allocated gradient, and whether gradients flow into it.
using Semblance.Numerics;

namespace Semblance.Training.Autodiff;

/// <summary>
/// Row-major [Rows, Cols] values. A tensor that <see cref="RequiresGrad"/> receives d(output)/d(this) in
/// <see cref="Grad"/> when <see cref="Tape.Backward(Tensor)"/> runs; gradients add up across backward passes until
/// <see cref="ZeroGrad"/>, which is what gradient accumulation needs.
/// </summary>
internal class Tensor
{
    public Tensor(float[] data, int rows, int cols, bool requiresGrad = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (rows < 0 || cols < 0 || (long)rows * cols != data.Length)
            throw new ArgumentException($"{data.Length} values do not fill a {rows}x{cols} tensor", nameof(data));
        Data = data;
        Rows = rows;
        Cols = cols;
        RequiresGrad = requiresGrad;
    }

    public float[] Data { get; }

    public int Rows { get; }

    public int Cols { get; }

    public int Length => Data.Length;

    public bool RequiresGrad { get; }

    public float[]? Grad { get; private set; }

    private bool _gradZero;

    /// <summary>The tape that produced this tensor (null for leaves): its gradient buffer comes from, and returns to, that tape.</summary>
    internal Tape? Owner { get; set; }

    /// <summary>True while the gradient holds nothing yet (never written, or zeroed since), so a kernel may overwrite it.</summary>
    internal bool GradIsZero => Grad is null || _gradZero;

    /// <summary>The single value of a 1x1 tensor (a loss).</summary>
    public float Item => Length == 1 ? Data[0] : throw new InvalidOperationException($"Item needs a 1x1 tensor, this one is {Rows}x{Cols}");

    public Span<float> Row(int r) => Data.AsSpan(r * Cols, Cols);

    /// <summary>The gradient buffer, zero-filled on first use.</summary>
    public float[] GradBuffer()
    {
        _gradZero = false;
        if (Grad is null)
        {
            if (Owner is null) Grad = new float[Data.Length];
            else Array.Clear(Grad = Owner.Rent(Data.Length));
        }
        return Grad;
    }

    /// <summary>
    /// The gradient buffer for a caller that writes every element when <see cref="GradIsZero"/> was true (and adds
    /// otherwise): a new one is not zero-filled first.
    /// </summary>
    internal float[] GradBufferToOverwrite()
    {
        _gradZero = false;
        return Grad ??= Owner?.Rent(Data.Length) ?? GC.AllocateUninitializedArray<float>(Data.Length);
    }

    /// <summary>Detaches and returns the gradient buffer (the tape recycles spent gradients of its results).</summary>
    internal float[]? TakeGrad()
    {
        var g = Grad;
        Grad = null;
        _gradZero = false;
        return g;
    }

    /// <summary>Adds <paramref name="g"/> into the gradient; a first contribution is copied, not added to zeros.</summary>
    internal void AccumulateGrad(ReadOnlySpan<float> g)
    {
        if (g.Length != Data.Length) throw new ArgumentException($"gradient has {g.Length} values, the tensor {Data.Length}", nameof(g));
        if (GradIsZero) g.CopyTo(GradBufferToOverwrite());
        else System.Numerics.Tensors.TensorPrimitives.Add(Grad!, g, Grad!);
    }

    public void ZeroGrad()
    {
        if (Grad is null) return;
        Array.Clear(Grad);
        _gradZero = true;
    }

    public static Tensor Constant(float[] data, int rows, int cols) => new(data, rows, cols, requiresGrad: false);
}

/// <summary>
/// A named model weight: a leaf tensor whose gradient persists across steps and whose values the optimizer updates.
/// <see cref="Shape"/> is the checkpoint shape ([out, in] for Linear weights, [n] for biases).
/// </summary>
internal sealed class Parameter : Tensor
{
    private PackedWeight? _packed, _packedTransposed;
    private int _packedVersion = -1, _packedTransposedVersion = -1;

    public Parameter(string name, int[] shape, float[] data, bool trainable = true)
        : base(data, RowsOf(name, shape), shape[^1], trainable)
    {
        Name = name;
        Shape = (int[])shape.Clone();
    }

    private static int RowsOf(string name, int[] shape) => shape.Length switch
    {
        1 => 1,
        2 => shape[0],
        _ => throw new ArgumentException($"parameter '{name}': shape must have 1 or 2 dimensions", nameof(shape)),
    };

    public string Name { get; }

    public int[] Shape { get; }

    /// <summary>Incremented whenever the values change, so cached packed copies know they are stale.</summary>
    public int Version { get; private set; }

    public void MarkUpdated() => Version++;

    /// <summary>The weight packed for <see cref="Gemm.Linear(ReadOnlySpan{float}, int, PackedWeight, ReadOnlySpan{float}, Span{float}, ComputeContext)"/>, re-packed after each update.</summary>
    internal PackedWeight Packed()
    {
        if (_packed is null || _packedVersion != Version)
        {
            _packed = PackedWeight.Pack(Data, Rows, Cols, _packed);
            _packedVersion = Version;
        }
        return _packed;
    }

    /// <summary>Wᵀ packed the same way, for the input gradient dX = dY·W of a Linear layer; re-packed after each update.</summary>
    internal PackedWeight PackedTransposed()
    {
        if (_packedTransposed is null || _packedTransposedVersion != Version)
        {
            _packedTransposed = TrainingGemm.PackInOut(Data, Rows, Cols, _packedTransposed);
            _packedTransposedVersion = Version;
        }
        return _packedTransposed;
    }
}
