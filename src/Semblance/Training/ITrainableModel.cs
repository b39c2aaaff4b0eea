// What the training loop needs from a model: pooled sentence embeddings on a tape, its parameters and its input limits.
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Training.Autodiff;

namespace Semblance.Training;

internal interface ITrainableModel
{
    /// <summary>Every tensor of the model, in save order.</summary>
    IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Length of the sentence vectors <see cref="Encode"/> returns.</summary>
    int Dimension { get; }

    /// <summary>Token ids must be below this (config.json vocab_size).</summary>
    int VocabSize { get; }

    /// <summary>The longest sequence the model takes (max_position_embeddings, or the GRU's max_length).</summary>
    int MaxPositions { get; }

    /// <summary>One vector per sequence, [BatchSize, dimension]; dropout keys (one per sequence) turn dropout on.</summary>
    Tensor Encode(Tape tape, TokenBatch batch, PoolingMode pooling, ulong[]? dropoutKeys = null);

    /// <summary>The tensor name a parameter is saved under (its own name, unless the saved layout nests it).</summary>
    string CheckpointName(Parameter p) => p.Name;

    /// <summary>
    /// True for a parameter of the task head on top of the encoder, the one <c>--head-lr</c> rates: SimBERT's masked-LM
    /// head (transform and output bias), or a pair scorer's pooler and classifier. False for the encoder itself.
    /// </summary>
    bool IsHeadParameter(Parameter p) => false;
}

internal static class TrainableModelExtensions
{
    public static IEnumerable<Parameter> TrainableParameters(this ITrainableModel model) => model.Parameters.Where(p => p.RequiresGrad);

    public static void ZeroGradients(this ITrainableModel model)
    {
        foreach (var p in model.Parameters) p.ZeroGrad();
    }
}
