// Maps config.json's model_type to the backend that can run it, so every command accepts every kind of model directory.
using System.Text.Json;

namespace Semblance.Embeddings;

public static class BackendRegistry
{
    public delegate IEmbeddingBackend Factory(ModelDirectory model, EncoderOptions options);

    private static readonly Dictionary<string, Factory> Factories = new(StringComparer.Ordinal)
    {
        ["bert"] = TransformerBackend.Open,
        ["roformer"] = TransformerBackend.Open,
        ["ernie"] = TransformerBackend.Open,
        [Default.DefaultEncoder.ModelType] = (model, options) => Default.DefaultEncoder.Open(model.Path, options),
        [Models.GruConfig.ModelTypeName] = GruBackend.Open,
    };

    public static IReadOnlyCollection<string> ModelTypes => Factories.Keys;

    public static void Register(string modelType, Factory factory) => Factories[modelType] = factory;

    /// <summary>Opens a model directory (or a Hugging Face ORG/NAME[@REVISION], resolved by <see cref="ModelLocator"/>) and builds its backend.</summary>
    public static IEmbeddingBackend Open(string model, EncoderOptions options) => Open(ModelDirectory.Open(model), options);

    /// <summary>Builds the backend that runs <paramref name="model"/>'s <c>model_type</c>.</summary>
    public static IEmbeddingBackend Open(ModelDirectory model, EncoderOptions options)
    {
        if (!Factories.TryGetValue(model.ModelType, out var factory))
            throw new ModelFormatException($"{Path.Combine(model.Path, "config.json")}: model_type '{model.ModelType}' is not supported (supported: {string.Join(", ", Factories.Keys.Order())})");
        return factory(model, options);
    }

    public static string ReadModelType(string modelDirectory)
    {
        var path = Path.Combine(modelDirectory, "config.json");
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: not found (a model directory needs config.json)");
        using var doc = IO.StrictJson.ReadFile(path, static m => new ModelFormatException(m), IO.StrictJson.Lenient);
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("model_type", out var mt) || mt.ValueKind != JsonValueKind.String)
            throw new ModelFormatException($"{path}: missing string field 'model_type'");
        return mt.GetString()!;
    }
}
