// A float32 matrix of the training graph: values, a lazily allocated gradient, and whether gradients flow into it.
using Semblance.Numerics;

namespace Semblance.Training.Autodiff;

/// <summary>
/// Row-major [Rows, Cols] values. A tensor that <see cref="RequiresGrad"/> receives d(output)/d(this) in
/// <see cref="Grad"/> when <see cref="Tape.Backward(Tensor)"/> runs; gradients add up across backward passes until
/// <see cref="ZeroGrad"/>, which is what gradient accumulation needs.
/// </summary>
public class Tensor
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

    /// <summary>The single value of a 1x1 tensor (a loss).</summary>
    public float Item => Length == 1 ? Data[0] : throw new InvalidOperationException($"Item needs a 1x1 tensor, this one is {Rows}x{Cols}");

    public Span<float> Row(int r) => Data.AsSpan(r * Cols, Cols);

    /// <summary>The gradient buffer, zero-filled on first use.</summary>
    public float[] GradBuffer() => Grad ??= new float[Data.Length];

    public void ZeroGrad()
    {
        if (Grad is not null) Array.Clear(Grad);
    }

    public static Tensor Constant(float[] data, int rows, int cols) => new(data, rows, cols, requiresGrad: false);
}

/// <summary>
/// A named model weight: a leaf tensor whose gradient persists across steps and whose values the optimizer updates.
/// <see cref="Shape"/> is the checkpoint shape ([out, in] for Linear weights, [n] for biases).
/// </summary>
public sealed class Parameter : Tensor
{
    private PackedWeight? _packed;
    private int _packedVersion = -1;

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
            _packed = PackedWeight.Pack(Data, Rows, Cols);
            _packedVersion = Version;
        }
        return _packed;
    }
}
