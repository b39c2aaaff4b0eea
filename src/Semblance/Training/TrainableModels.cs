// Building a trainable model from a config.json (--init) or a checkpoint directory, whatever its architecture.
using Semblance.Models;

namespace Semblance.Training;

internal static class TrainableModels
{
    /// <summary>A freshly initialised model: a semblance-gru config builds a <see cref="TrainableGru"/>, any other a <see cref="TrainableTransformer"/>.</summary>
    public static ITrainableModel Initialize(string configPath, int seed) => GruConfig.Declares(configPath)
        ? TrainableGru.Initialize(GruConfig.Load(configPath), seed)
        : TrainableTransformer.Initialize(TransformerConfig.Load(configPath), seed);

    /// <summary>The model_type values `train` accepts, sorted as `encode` lists its own.</summary>
    public static IReadOnlyList<string> TrainableModelTypes { get; } =
        [.. TransformerConfig.SupportedModelTypes.Append(GruConfig.ModelTypeName).Order(StringComparer.Ordinal)];

    /// <summary>The model of a checkpoint directory (Hugging Face layout or a semblance-gru checkpoint).</summary>
    public static ITrainableModel Load(string dir, bool allowNonFinite = false)
    {
        var configPath = Path.Combine(dir, TransformerLoader.ConfigFileName);
        if (File.Exists(configPath) && Embeddings.BackendRegistry.ReadModelType(dir) is var type && !TrainableModelTypes.Contains(type))
        {
            string trainable = string.Join(", ", TrainableModelTypes);
            throw new ModelFormatException(type == Embeddings.Default.DefaultEncoder.ModelType
                ? $"{configPath}: model_type '{type}' (the default encoder) is fitted, not trained: use `semblance fit-default`; train takes {trainable}"
                : Embeddings.BackendRegistry.ModelTypes.Contains(type)
                    ? $"{configPath}: model_type '{type}' can be encoded but not trained; train takes {trainable}"
                    : $"{configPath}: model_type '{type}' is not supported; train takes {trainable} (encode also runs {string.Join(", ", Embeddings.BackendRegistry.ModelTypes.Except(TrainableModelTypes).Order(StringComparer.Ordinal))})");
        }
        return GruConfig.Declares(Path.Combine(dir, TransformerLoader.ConfigFileName))
            ? TrainableGru.Load(dir, allowNonFinite)
            : TrainableTransformer.Load(dir, allowNonFinite);
    }

    /// <summary>A one-phrase description of the model a config.json describes; equal strings mean interchangeable weights.</summary>
    public static string Describe(string configPath)
    {
        if (GruConfig.Declares(configPath)) return GruConfig.Load(configPath).Describe();
        var c = TransformerConfig.Load(configPath);
        return $"{c.ModelType} (hidden {c.HiddenSize}, {c.NumHiddenLayers} layers, {c.NumAttentionHeads} heads, intermediate {c.IntermediateSize}, vocab {c.VocabSize})";
    }
}
