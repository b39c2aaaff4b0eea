// What the training loop needs from a model: pooled sentence embeddings on a tape, and its parameters.
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Training.Autodiff;

namespace Semblance.Training;

public interface ITrainableEncoder
{
    /// <summary>Every tensor of the model, in save order.</summary>
    IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Length of the sentence vectors <see cref="Encode"/> returns.</summary>
    int Dimension { get; }

    /// <summary>One vector per sequence, [BatchSize, dimension]; dropout keys (one per sequence) turn dropout on.</summary>
    Tensor Encode(Tape tape, TokenBatch batch, PoolingMode pooling, ulong[]? dropoutKeys = null);
}

public static class TrainableEncoderExtensions
{
    public static IEnumerable<Parameter> TrainableParameters(this ITrainableEncoder model) => model.Parameters.Where(p => p.RequiresGrad);

    public static void ZeroGradients(this ITrainableEncoder model)
    {
        foreach (var p in model.Parameters) p.ZeroGrad();
    }
}
