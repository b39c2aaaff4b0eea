// The contract between the transformer encoders (BERT, RoFormer, ...) and the embedding pipeline.
using Semblance.Numerics;

namespace Semblance.Models;

/// <summary>
/// Which intermediate results a forward pass must keep. <paramref name="LinearPooler"/> leaves the pooler's tanh out:
/// the pooler output is then W·h[CLS] + b (the dense layer with a linear activation, as SimBERT/RoFormer-Sim use it).
/// </summary>
public sealed record ForwardRequest(bool AllHiddenStates = false, bool FirstLayer = false, bool Pooler = false, bool LinearPooler = false)
{
    /// <summary>
    /// 0 = plain attention; N &gt; 0 = entropy-invariant scale: for a sequence of n &gt; N tokens the attention logits are
    /// multiplied by <see cref="EntropyFactor"/> = log n / log N (inference only).
    /// </summary>
    public int EntropyTrainLength { get; init; }

    /// <summary>log n / log N for n &gt; N &gt; 1, else 1.</summary>
    public static float EntropyFactor(int length, int trainLength) =>
        trainLength > 1 && length > trainLength ? (float)(Math.Log(length) / Math.Log(trainLength)) : 1f;

    public static ForwardRequest LastOnly { get; } = new();
}

/// <summary>
/// Views into a forward pass's workspace, valid until the next forward call with the same workspace.
/// Hidden states are [TokenCount, HiddenSize] row-major in the batch's packed order (see <see cref="TokenBatch"/>).
/// </summary>
public interface ITransformerOutput
{
    int HiddenSize { get; }

    /// <summary>Layer 0 is the embedding output; layer L (1..NumLayers) the output of transformer layer L.</summary>
    ReadOnlySpan<float> HiddenState(int layer);

    ReadOnlySpan<float> LastHiddenState { get; }

    /// <summary>[BatchSize, HiddenSize]: tanh(W·h[CLS] + b) (without tanh for ForwardRequest.LinearPooler); empty for models without a pooler.</summary>
    ReadOnlySpan<float> PoolerOutput { get; }
}

public interface ITransformer : IDisposable
{
    /// <summary>"bert", "roformer", ... as in config.json's model_type.</summary>
    string ModelType { get; }

    int HiddenSize { get; }

    int NumLayers { get; }

    int MaxPositions { get; }

    bool HasPooler { get; }

    long ParameterCount { get; }

    /// <summary>A reusable per-caller activation buffer; one per concurrent caller.</summary>
    IDisposable CreateWorkspace();

    ITransformerOutput Forward(TokenBatch batch, ForwardRequest request, IDisposable workspace, ComputeContext ctx);
}
