// Maps config.json's model_type to the backend that can run it, so every command accepts every kind of model directory.
using System.Text.Json;

namespace Semblance.Embeddings;

public static class BackendRegistry
{
    public delegate IEmbeddingBackend Factory(string modelDirectory, EncoderOptions options);

    private static readonly Dictionary<string, Factory> Factories = new(StringComparer.Ordinal)
    {
        ["bert"] = TransformerBackend.Open,
        ["roformer"] = TransformerBackend.Open,
        ["ernie"] = TransformerBackend.Open,
        [Default.DefaultEncoder.ModelType] = Default.DefaultEncoder.Open,
        [Models.GruConfig.ModelTypeName] = GruBackend.Open,
    };

    public static IReadOnlyCollection<string> ModelTypes => Factories.Keys;

    public static void Register(string modelType, Factory factory) => Factories[modelType] = factory;

    /// <summary>Opens a model directory (or a cached Hugging Face ORG/NAME[@REVISION]): checks it exists, reads model_type from config.json and builds the backend.</summary>
    public static IEmbeddingBackend Open(string modelDirectory, EncoderOptions options)
    {
        modelDirectory = Hub.ModelLocator.Resolve(modelDirectory);
        if (File.Exists(modelDirectory)) throw new ModelFormatException($"{modelDirectory}: is a file, expected a model directory");
        if (!Directory.Exists(modelDirectory)) throw new ModelFormatException($"{modelDirectory}: model directory not found");
        var modelType = ReadModelType(modelDirectory);
        if (!Factories.TryGetValue(modelType, out var factory))
            throw new ModelFormatException($"{Path.Combine(modelDirectory, "config.json")}: model_type '{modelType}' is not supported (supported: {string.Join(", ", Factories.Keys.Order())})");
        return factory(modelDirectory, options);
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
