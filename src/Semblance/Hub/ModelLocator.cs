// Turns what a user typed for a model (a directory, or ORG/NAME[@REVISION]) into a local directory; one place for every command.
namespace Semblance.Hub;

/// <summary>Resolves model arguments: an existing local path always wins; otherwise a hub id is looked up in the cache.</summary>
public static class ModelLocator
{
    /// <summary>
    /// Returns <paramref name="model"/> when it exists locally or is not a hub id (the caller then reports the missing path);
    /// for <c>ORG/NAME[@REVISION]</c> returns the cached snapshot directory, or throws a <see cref="ModelFormatException"/>
    /// saying how to download it. Never touches the network.
    /// </summary>
    public static string Resolve(string model, HubSettings? settings = null)
    {
        if (Directory.Exists(model) || File.Exists(model) || !HubModelId.TryParse(model, out var id)) return model;
        settings ??= HubSettings.FromEnvironment();
        var cache = new HubCache(settings.CacheRoot);
        return cache.TryGetSnapshot(id)
            ?? throw new ModelFormatException($"{model}: no such model directory, and Hugging Face model {id} is not in the cache {cache.Root}; download it with 'semblance download {model}'"
                + (settings.Offline ? " (HF_HUB_OFFLINE is set, so nothing is fetched)" : ""));
    }
}
