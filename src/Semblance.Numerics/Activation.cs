// The element-wise functions a Linear layer can apply to its output in the GEMM epilogue.
namespace Semblance.Numerics;

/// <summary>Element-wise function applied to a Linear layer's output in the same pass (after the bias).</summary>
internal enum Activation
{
    None,
    /// <summary>Exact GELU, x·Φ(x) with the erf-based Φ (PyTorch's default "gelu").</summary>
    Gelu,
    /// <summary>Tanh-approximated GELU ("gelu_new", "gelu_pytorch_tanh").</summary>
    GeluTanh,
    Relu,
    Tanh,
}
