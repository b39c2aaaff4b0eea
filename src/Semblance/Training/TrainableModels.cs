// Building a trainable encoder from a config.json (--init) or a checkpoint directory, whatever its architecture.
using Semblance.Models;

namespace Semblance.Training;

/// <summary>A trainable encoder with the limits its config sets on token ids and sequence length.</summary>
public sealed record TrainableModel(ITrainableEncoder Encoder, int VocabSize, int MaxPositions);

public static class TrainableModels
{
    /// <summary>A freshly initialised model: a semblance-gru config builds a <see cref="GruEncoder"/>, any other a BERT/RoFormer.</summary>
    public static TrainableModel Initialize(string configPath, int seed)
    {
        if (GruConfig.Declares(configPath))
        {
            var gru = GruConfig.Load(configPath);
            return new TrainableModel(GruEncoder.Initialize(gru, seed), gru.VocabSize, gru.MaxLength);
        }
        var config = TransformerConfig.Load(configPath);
        return new TrainableModel(TrainableEncoder.Initialize(config, seed), config.VocabSize, config.MaxPositionEmbeddings);
    }

    /// <summary>The model of a checkpoint directory (Hugging Face layout or a semblance-gru checkpoint).</summary>
    public static TrainableModel Load(string dir, bool allowNonFinite = false)
    {
        if (GruConfig.Declares(Path.Combine(dir, TransformerLoader.ConfigFileName)))
        {
            var gru = GruEncoder.Load(dir, allowNonFinite);
            return new TrainableModel(gru, gru.Config.VocabSize, gru.Config.MaxLength);
        }
        var transformer = TrainableEncoder.Load(dir, allowNonFinite);
        return new TrainableModel(transformer, transformer.Config.VocabSize, transformer.Config.MaxPositionEmbeddings);
    }

    /// <summary>A one-phrase description of the model a config.json describes; equal strings mean interchangeable weights.</summary>
    public static string Describe(string configPath)
    {
        if (GruConfig.Declares(configPath)) return GruConfig.Load(configPath).Describe();
        var c = TransformerConfig.Load(configPath);
        return $"{c.ModelType} (hidden {c.HiddenSize}, {c.NumHiddenLayers} layers, {c.NumAttentionHeads} heads, intermediate {c.IntermediateSize}, vocab {c.VocabSize})";
    }
}
