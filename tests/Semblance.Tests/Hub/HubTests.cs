// Hub download and cache end to end against a loopback hub: layout shared with huggingface_hub, resume, corruption, errors.
using Semblance.Embeddings;
using Semblance.Hub;
using Semblance.Tests.Cli;
using Semblance.Tests.Models;

namespace Semblance.Tests.Hub;

public class HubTests
{
    private static readonly string[] Needed = ["config.json", "model.safetensors", "modules.json", "1_Pooling/config.json"];

    private static HubClient Client(TempDir cache, FakeHub hub, bool offline = false) =>
        new(new HubSettings { CacheRoot = cache.Path, Endpoint = hub.Endpoint, Offline = offline }) { MaxAttempts = 4 };

    private static HubModelId Id => HubModelId.Parse(FakeHub.Repo);

    private static string RepoDir(TempDir cache) => Path.Combine(cache.Path, "models--test-org--tiny-bert");

    private static int FileGets(FakeHub hub) => hub.Log.Count(l => l.StartsWith("GET /cdn/", StringComparison.Ordinal) || (l.StartsWith("GET /", StringComparison.Ordinal) && l.Contains("/resolve/")));

    [Fact]
    public void ModelIdsParseAndPathsDoNot()
    {
        Assert.True(HubModelId.TryParse("sentence-transformers/all-MiniLM-L6-v2", out var a));
        Assert.Equal(("sentence-transformers/all-MiniLM-L6-v2", "main"), (a.Repo, a.Revision));
        Assert.Equal("models--sentence-transformers--all-MiniLM-L6-v2", a.CacheFolderName);
        Assert.True(HubModelId.TryParse("org/name@refs/pr/3", out var b));
        Assert.Equal("refs/pr/3", b.Revision);
        foreach (var bad in new[] { "/abs/path", "./org/name", "a/b/c", "bert-base-uncased", "org/..", "org/name@", "../x" })
            Assert.False(HubModelId.TryParse(bad, out _), bad);
    }

    [Fact]
    public async Task DownloadWritesTheHuggingFaceCacheLayoutAndOnlyNeededFiles()
    {
        await using var hub = await FakeHub.StartAsync(FakeHub.ModelFiles());
        using var cache = new TempDir();
        using var client = Client(cache, hub);
        var snapshot = await client.DownloadAsync(Id);

        Assert.Equal(Path.Combine(RepoDir(cache), "snapshots", FakeHub.Commit), snapshot);
        Assert.Equal(FakeHub.Commit, File.ReadAllText(Path.Combine(RepoDir(cache), "refs", "main")));
        foreach (var file in hub.Files.Keys)
        {
            var entry = Path.Combine(snapshot, file);
            bool wanted = file is not ("pytorch_model.bin" or "README.md");
            Assert.Equal(wanted, File.Exists(entry));
            if (!wanted) continue;
            var link = new FileInfo(entry).LinkTarget;
            var depth = file.Count(c => c == '/');
            Assert.Equal(string.Concat(Enumerable.Repeat("../", depth + 2)) + "blobs/" + FakeHub.ETagOf(file, hub.Files[file]), link);
            Assert.Equal(hub.Files[file], File.ReadAllBytes(entry));
        }
        Assert.Empty(Directory.GetFiles(Path.Combine(RepoDir(cache), "blobs"), "*.incomplete"));
        Assert.Equal(snapshot, ModelLocator.Resolve(FakeHub.Repo, new HubSettings { CacheRoot = cache.Path, Offline = true }));

        int gets = FileGets(hub);
        Assert.Equal(snapshot, await client.DownloadAsync(Id));
        Assert.Equal(gets, FileGets(hub));
    }

    [SharedFact]
    public async Task ADownloadedModelLoadsByIdThroughTheCliAndTheRegistry()
    {
        await using var hub = await FakeHub.StartAsync(FakeHub.ModelFiles());
        using var cache = new TempDir();
        var saved = (Environment.GetEnvironmentVariable("HF_HUB_CACHE"), Environment.GetEnvironmentVariable("HF_ENDPOINT"), Environment.GetEnvironmentVariable("HF_HUB_OFFLINE"));
        try
        {
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", cache.Path);
            Environment.SetEnvironmentVariable("HF_ENDPOINT", hub.Endpoint);
            Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", null);
            var (code, stdout, stderr) = CliAppTests.RunWithInput("", "download", FakeHub.Repo);
            Assert.True(code == 0, stderr);
            Assert.Equal(Path.Combine(RepoDir(cache), "snapshots", FakeHub.Commit), stdout.Trim());

            using var byId = SentenceEncoder.Load(FakeHub.Repo + "@main");
            using var byDir = SentenceEncoder.Load(SharedData.FixtureModel("bert-tiny-uncased"), new EncoderOptions { Pooling = "mean" });
            Assert.Equal(byDir.Encode("hello hub"), byId.Encode("hello hub"));

            var (tcode, tout, terr) = CliAppTests.RunWithInput("hello hub\n", "tokenize", "--model", FakeHub.Repo);
            Assert.True(tcode == 0, terr);
            Assert.Contains("\"hello\"", tout);
        }
        finally
        {
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", saved.Item1);
            Environment.SetEnvironmentVariable("HF_ENDPOINT", saved.Item2);
            Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", saved.Item3);
        }
    }

    [Fact]
    public async Task AnInterruptedDownloadResumesWithARangeRequest()
    {
        await using var hub = await FakeHub.StartAsync(FakeHub.ModelFiles());
        int half = hub.Files["model.safetensors"].Length / 2;
        hub.DropOnce("model.safetensors", half);
        using var cache = new TempDir();
        using var client = Client(cache, hub);
        var snapshot = await client.DownloadAsync(Id);
        Assert.Equal(hub.Files["model.safetensors"], File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        // An aborted connection may lose bytes in flight, so the resume point is at most what the server wrote.
        var resumed = hub.Log.Where(l => l.StartsWith("GET /cdn/", StringComparison.Ordinal) && l.Contains(" bytes=", StringComparison.Ordinal))
            .Select(l => long.Parse(l[(l.IndexOf(" bytes=", StringComparison.Ordinal) + 7)..^1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(2, hub.Log.Count(l => l.StartsWith("GET /cdn/", StringComparison.Ordinal)));
        Assert.All(resumed, r => Assert.InRange(r, 1, half));
    }

    [Fact]
    public async Task APartialFileFromAnEarlierRunIsResumed()
    {
        await using var hub = await FakeHub.StartAsync(FakeHub.ModelFiles());
        using var cache = new TempDir();
        var content = hub.Files["model.safetensors"];
        var blob = Path.Combine(RepoDir(cache), "blobs", FakeHub.ETagOf("model.safetensors", content));
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        File.WriteAllBytes(blob + ".incomplete", content[..1000]);
        using var client = Client(cache, hub);
        var snapshot = await client.DownloadAsync(Id);
        Assert.Equal(content, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.Contains(hub.Log, l => l.EndsWith("bytes=1000-", StringComparison.Ordinal));
        Assert.False(File.Exists(blob + ".incomplete"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ACorruptPartialFileIsDiscarded(bool tooLong)
    {
        await using var hub = await FakeHub.StartAsync(FakeHub.ModelFiles());
        using var cache = new TempDir();
        var content = hub.Files["model.safetensors"];
        var blob = Path.Combine(RepoDir(cache), "blobs", FakeHub.ETagOf("model.safetensors", content));
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        // Too long, or the right length so far but different bytes (caught by the sha256 check after resuming).
        File.WriteAllBytes(blob + ".incomplete", tooLong ? new byte[content.Length + 10] : new byte[1000]);
        using var client = Client(cache, hub);
        var snapshot = await client.DownloadAsync(Id);
        Assert.Equal(content, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        var cdnGets = hub.Log.Where(l => l.StartsWith("GET /cdn/", StringComparison.Ordinal)).ToList();
        Assert.Equal(tooLong ? ["GET /cdn/" + FakeHub.ETagOf("model.safetensors", content)] : ["GET /cdn/" + FakeHub.ETagOf("model.safetensors", content) + " bytes=1000-", "GET /cdn/" + FakeHub.ETagOf("model.safetensors", content)], cdnGets);
    }

    [Theory]
    [InlineData("model.safetensors")]
    [InlineData("config.json")]
    public async Task ContentThatDoesNotMatchItsETagNeverReachesTheSnapshot(string file)
    {
        await using var hub = await FakeHub.StartAsync(FakeHub.ModelFiles());
        hub.CorruptFile = file;
        using var cache = new TempDir();
        using var client = Client(cache, hub);
        var e = await Assert.ThrowsAsync<SemblanceException>(() => client.DownloadAsync(Id));
        Assert.Contains("does not match ETag", e.Message);
        Assert.Contains(file, e.Message);
        Assert.False(File.Exists(Path.Combine(RepoDir(cache), "snapshots", FakeHub.Commit, file)));
        Assert.False(File.Exists(Path.Combine(RepoDir(cache), "blobs", FakeHub.ETagOf(file, hub.Files[file]))));
        Assert.False(File.Exists(Path.Combine(RepoDir(cache), "refs", "main")));
    }

    [Fact]
    public async Task UnknownRepositoriesRevisionsAndMissingWeightsAreClearErrors()
    {
        var files = FakeHub.ModelFiles();
        await using var hub = await FakeHub.StartAsync(files);
        using var cache = new TempDir();
        using var client = Client(cache, hub);
        var e = await Assert.ThrowsAsync<SemblanceException>(() => client.DownloadAsync(HubModelId.Parse("nobody/nothing")));
        Assert.Contains("nobody/nothing: repository not found", e.Message);
        e = await Assert.ThrowsAsync<SemblanceException>(() => client.DownloadAsync(HubModelId.Parse(FakeHub.Repo + "@v9")));
        Assert.Contains("revision 'v9' not found", e.Message);
        e = await Assert.ThrowsAsync<SemblanceException>(() => client.DownloadAsync(Id, ["*.onnx"]));
        Assert.Contains("no file matches --include *.onnx", e.Message);

        files.Remove("model.safetensors");
        await using var noWeights = await FakeHub.StartAsync(files);
        using var client2 = Client(cache, noWeights);
        var m = await Assert.ThrowsAsync<ModelFormatException>(() => client2.DownloadAsync(Id));
        Assert.Contains("no safetensors weights", m.Message);
    }

    [Fact]
    public async Task IncludePatternsSelectFiles()
    {
        await using var hub = await FakeHub.StartAsync(FakeHub.ModelFiles());
        using var cache = new TempDir();
        using var client = Client(cache, hub);
        var snapshot = await client.DownloadAsync(Id, ["*.json"]);
        var got = Directory.GetFiles(snapshot, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(snapshot, f).Replace('\\', '/')).Order().ToList();
        Assert.Equal(hub.Files.Keys.Where(k => k.EndsWith(".json", StringComparison.Ordinal) && !k.Contains('/')).Order().ToList(), got);
    }

    [Fact]
    public async Task OfflineModeUsesOnlyTheCache()
    {
        await using var hub = await FakeHub.StartAsync(FakeHub.ModelFiles());
        using var cache = new TempDir();
        using (var offline = Client(cache, hub, offline: true))
        {
            var e = await Assert.ThrowsAsync<SemblanceException>(() => offline.DownloadAsync(Id));
            Assert.Contains("HF_HUB_OFFLINE", e.Message);
        }
        Assert.Empty(hub.Log);
        using (var online = Client(cache, hub)) await online.DownloadAsync(Id);
        int requests = hub.Log.Count;
        using (var offline = Client(cache, hub, offline: true))
            Assert.Equal(Path.Combine(RepoDir(cache), "snapshots", FakeHub.Commit), await offline.DownloadAsync(Id));
        Assert.Equal(requests, hub.Log.Count);
        var m = Assert.Throws<ModelFormatException>(() => ModelLocator.Resolve("other/model", new HubSettings { CacheRoot = cache.Path, Offline = true }));
        Assert.Contains("semblance download other/model", m.Message);
    }

    [Fact]
    public async Task NoNetworkIsAClearError()
    {
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }
        using var cache = new TempDir();
        using var client = new HubClient(new HubSettings { CacheRoot = cache.Path, Endpoint = $"http://127.0.0.1:{port}" });
        var e = await Assert.ThrowsAsync<SemblanceException>(() => client.DownloadAsync(Id));
        Assert.StartsWith($"cannot reach http://127.0.0.1:{port}", e.Message);
    }

    [Fact]
    public void ALocalDirectoryWinsOverAHubIdAndPythonCachesAreFound()
    {
        using var cache = new TempDir();
        // A cache as huggingface_hub writes it: blob by etag, snapshot symlink, refs/main.
        var repo = Path.Combine(cache.Path, "models--org--name");
        Directory.CreateDirectory(Path.Combine(repo, "blobs"));
        File.WriteAllText(Path.Combine(repo, "blobs", "abc123"), "{\"model_type\":\"bert\"}");
        var commit = new string('e', 40);
        var snap = Path.Combine(repo, "snapshots", commit);
        Directory.CreateDirectory(snap);
        File.CreateSymbolicLink(Path.Combine(snap, "config.json"), "../../blobs/abc123");
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), commit);
        var settings = new HubSettings { CacheRoot = cache.Path, Offline = true };
        Assert.Equal(snap, ModelLocator.Resolve("org/name", settings));
        Assert.Equal(snap, ModelLocator.Resolve("org/name@" + commit, settings));
        Assert.Throws<ModelFormatException>(() => ModelLocator.Resolve("org/name@dev", settings));

        var cwd = Environment.CurrentDirectory;
        var local = cache.Sub("org");
        Directory.CreateDirectory(Path.Combine(local, "name"));
        Assert.Equal(Path.Combine(local, "name"), ModelLocator.Resolve(Path.Combine(local, "name"), settings));
        Assert.Equal("not/a/hub/id", ModelLocator.Resolve("not/a/hub/id", settings));
    }
}
