// Opens a Hugging Face model directory and builds the encoder its config.json names.
namespace Semblance.Models;

public static class TransformerLoader
{
    public const string ConfigFileName = "config.json";

    /// <summary>Reads <c>config.json</c> of <paramref name="modelDir"/> without touching the weights.</summary>
    public static TransformerConfig LoadConfig(string modelDir)
    {
        if (!Directory.Exists(modelDir))
            throw new ModelFormatException($"{modelDir}: model directory not found; expected a Hugging Face directory with config.json and model.safetensors");
        return TransformerConfig.Load(Path.Combine(modelDir, ConfigFileName));
    }

    /// <summary>
    /// Loads the model (model_type "bert", "ernie" without task-type embeddings, or "roformer") as a
    /// <see cref="TransformerModel"/>. The caller disposes the result, which unmaps the weight files.
    /// </summary>
    public static ITransformer Load(string modelDir, bool allowNonFinite = false) => Load(modelDir, LoadConfig(modelDir), allowNonFinite);

    /// <summary>As <see cref="Load(string, bool)"/>, with config.json already parsed (see Embeddings.ModelDirectory).</summary>
    public static TransformerModel Load(string modelDir, TransformerConfig config, bool allowNonFinite = false, WeightPrecision precision = WeightPrecision.Fp32)
    {
        var weights = ModelWeights.Open(modelDir, allowNonFinite);
        try
        {
            return TransformerModel.Load(config, weights, precision);
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }
}
