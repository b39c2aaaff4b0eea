// Building a trainable model from a config.json (--init) or a checkpoint directory, whatever its architecture.
using Semblance.Models;

namespace Semblance.Training;

public static class TrainableModels
{
    /// <summary>A freshly initialised model: a semblance-gru config builds a <see cref="TrainableGru"/>, any other a <see cref="TrainableTransformer"/>.</summary>
    public static ITrainableModel Initialize(string configPath, int seed) => GruConfig.Declares(configPath)
        ? TrainableGru.Initialize(GruConfig.Load(configPath), seed)
        : TrainableTransformer.Initialize(TransformerConfig.Load(configPath), seed);

    /// <summary>The model of a checkpoint directory (Hugging Face layout or a semblance-gru checkpoint).</summary>
    public static ITrainableModel Load(string dir) => GruConfig.Declares(Path.Combine(dir, TransformerLoader.ConfigFileName))
        ? TrainableGru.Load(dir)
        : TrainableTransformer.Load(dir);

    /// <summary>A one-phrase description of the model a config.json describes; equal strings mean interchangeable weights.</summary>
    public static string Describe(string configPath)
    {
        if (GruConfig.Declares(configPath)) return GruConfig.Load(configPath).Describe();
        var c = TransformerConfig.Load(configPath);
        return $"{c.ModelType} (hidden {c.HiddenSize}, {c.NumHiddenLayers} layers, {c.NumAttentionHeads} heads, intermediate {c.IntermediateSize}, vocab {c.VocabSize})";
    }
}
