// The ownership rule for output directories (issue 13): a command writes only into a directory it created, an
// empty one, or one carrying its own marker; it never deletes or overwrites a file it did not create.
using Semblance.IO;
using Semblance.Search;
using Semblance.Tests.Embeddings;
using Semblance.Tests.Models;
using Semblance.Tests.Search;

namespace Semblance.Tests.Cli;

public class OutputOwnershipTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliAppTests.Run(args);

    /// <summary>A user's directory holding files whose names collide with what an index writer writes or collects.</summary>
    private static Dictionary<string, byte[]> UserFiles(string dir)
    {
        Directory.CreateDirectory(dir);
        var files = new Dictionary<string, byte[]>
        {
            ["items.1.bin"] = [1, 2, 3],
            ["vectors.1.bin"] = [4, 5, 6],
            ["photo.bin"] = [7],
            [".draft.tmp"] = [8],
            ["config.json"] = "{\"mine\": true}"u8.ToArray(),
            ["notes.txt"] = "keep me"u8.ToArray(),
        };
        foreach (var (name, bytes) in files) File.WriteAllBytes(Path.Combine(dir, name), bytes);
        return files;
    }

    private static void AssertUntouched(string dir, Dictionary<string, byte[]> files)
    {
        Assert.Equal(files.Keys.Order(StringComparer.Ordinal), Directory.EnumerateFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var (name, bytes) in files) Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(dir, name)));
    }

    private static void AssertOneLineError((int Code, string Out, string Err) r, string contains)
    {
        Assert.Equal(1, r.Code);
        Assert.Contains(contains, r.Err);
        Assert.Single(r.Err.TrimEnd('\n').Split('\n'));
    }

    private static string Vectors(string dir)
    {
        var path = Path.Combine(dir, "base.npy");
        Npy.WriteFloat32(path, SearchTestData.Clustered(50, 8, 3), 50, 8);
        return path;
    }

    [Theory]
    [InlineData("flat", false)]
    [InlineData("hnsw", false)]
    [InlineData("flat", true)]
    [InlineData("hnsw", true)]
    public void IndexBuildIntoAUsersDirectoryRefusesAndDeletesNothing(string kind, bool force)
    {
        var dir = SearchTestData.TempDir();
        var target = Path.Combine(dir, "mine");
        var files = UserFiles(target);
        string[] args = ["index", "build", "--output", target, "--vectors", Vectors(dir), "--kind", kind, .. force ? new[] { "--force" } : []];
        AssertOneLineError(Run(args), "not created by semblance");
        AssertUntouched(target, files);
    }

    [Fact]
    public void IndexBuildWithTextInputIntoAUsersDirectoryRefusesBeforeEncoding()
    {
        var dir = SearchTestData.TempDir();
        var target = Path.Combine(dir, "mine");
        var files = UserFiles(target);
        var input = Path.Combine(dir, "in.txt");
        File.WriteAllLines(input, ["a", "b"]);
        // The model does not exist: the ownership check must come first.
        AssertOneLineError(Run("index", "build", "--output", target, "--input", input, "--model", Path.Combine(dir, "no-model")), "not created by semblance");
        AssertUntouched(target, files);
    }

    [Fact]
    public void IndexBuildReplacesItsOwnIndexOnlyWithForceAndWritesIntoAnEmptyDirectory()
    {
        var dir = SearchTestData.TempDir();
        var xb = Vectors(dir);
        var empty = Path.Combine(dir, "empty");
        Directory.CreateDirectory(empty);
        Assert.Equal(0, Run("index", "build", "--output", empty, "--vectors", xb).Code);
        Assert.Equal(IndexManifest.FormatName, OutputDirectory.ReadMarker(empty));

        AssertOneLineError(Run("index", "build", "--output", empty, "--vectors", xb), "pass --force to replace it");
        var small = Path.Combine(dir, "small.npy");
        Npy.WriteFloat32(small, SearchTestData.Clustered(7, 8, 4), 7, 8);
        var (code, output, err) = Run("index", "build", "--output", empty, "--vectors", small, "--kind", "hnsw", "--force");
        Assert.True(code == 0, err);
        Assert.Contains("kind=hnsw", output);
        Assert.Equal(7, VectorIndex.ReadInfo(empty).Count);
        // The replaced generation's files were collected; only the new generation, the manifest, LOCK and the marker remain.
        Assert.All(Directory.EnumerateFiles(empty).Select(Path.GetFileName),
            n => Assert.True(n is "manifest.json" or "LOCK" or ".semblance" || n!.EndsWith(".2.bin", StringComparison.Ordinal), n));
    }

    [Fact]
    public void IndexesWrittenBeforeMarkersStillAcceptIndexAdd()
    {
        var dir = SearchTestData.TempDir();
        var xb = Vectors(dir);
        var idx = Path.Combine(dir, "idx");
        Assert.Equal(0, Run("index", "build", "--output", idx, "--vectors", xb).Code);
        File.Delete(Path.Combine(idx, OutputDirectory.MarkerFile));
        var (code, _, err) = Run("index", "add", "--index", idx, "--vectors", xb, "--ids", WriteIds(dir, 50, "b"));
        Assert.True(code == 0, err);
        Assert.Equal(100, VectorIndex.ReadInfo(idx).Count);
    }

    private static string WriteIds(string dir, int n, string prefix)
    {
        var path = Path.Combine(dir, prefix + ".ids");
        File.WriteAllLines(path, Enumerable.Range(0, n).Select(i => prefix + i));
        return path;
    }

    [Fact]
    public void LibrarySaveIntoAUsersDirectoryRefusesAndDeletesNothing()
    {
        var dir = SearchTestData.TempDir();
        var files = UserFiles(dir);
        using var index = new FlatIndex(4, Metric.InnerProduct);
        index.Add(new float[] { 1, 2, 3, 4 }, ["a"]);
        var e = Assert.Throws<SemblanceException>(() => index.Save(dir));
        Assert.Contains("not created by semblance", e.Message);
        AssertUntouched(dir, files);
    }

    [Fact]
    public void FitDefaultRefusesAUsersDirectoryAndReplacesItsOwnModelOnlyWithForce()
    {
        var dir = SearchTestData.TempDir();
        var corpus = Path.Combine(dir, "corpus.txt");
        File.WriteAllLines(corpus, DefaultEncoderTests.Corpus(200, 2));
        var mine = Path.Combine(dir, "mine");
        var files = UserFiles(mine);
        AssertOneLineError(Run("fit-default", "--input", corpus, "--output", mine, "--dims", "16"), "not created by semblance");
        AssertOneLineError(Run("fit-default", "--input", corpus, "--output", mine, "--dims", "16", "--force"), "not created by semblance");
        AssertUntouched(mine, files);

        var model = Path.Combine(dir, "model");
        Assert.Equal(0, Run("fit-default", "--input", corpus, "--output", model, "--dims", "16").Code);
        var before = File.ReadAllBytes(Path.Combine(model, "model.safetensors"));
        AssertOneLineError(Run("fit-default", "--input", corpus, "--output", model, "--dims", "24"), "already holds a semblance-model; pass --force");
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(model, "model.safetensors")));
        var (code, output, err) = Run("fit-default", "--input", corpus, "--output", model, "--dims", "24", "--force");
        Assert.True(code == 0, err);
        Assert.Contains("dims 24", output);
    }

    [Fact]
    public void TrainRefusesAnExistingOutputWithoutResumeOrForceAndAUsersDirectoryAlways()
    {
        using var dir = new TempDir();
        var data = dir.File("data.txt");
        File.WriteAllLines(data, ["a b", "c d", "e f"]);
        // An earlier run's output (checkpoint present, no marker: written before markers existed).
        var earlier = dir.Sub("earlier");
        Directory.CreateDirectory(Path.Combine(earlier, "last"));
        File.WriteAllText(Path.Combine(earlier, "last", "trainer_state.json"), "{}");
        File.WriteAllBytes(Path.Combine(earlier, "model.safetensors"), [1, 2, 3]);
        string[] common = ["train", "--model", dir.File("no-model"), "--data", data, "--loss", "cosent"];
        AssertOneLineError(Run([.. common, "--output", earlier]), "pass --resume to continue that run or --force");
        Assert.Equal([1, 2, 3], File.ReadAllBytes(Path.Combine(earlier, "model.safetensors")));
        // With --force the ownership check passes and the run goes on to fail on the missing model, not on the directory.
        var forced = Run([.. common, "--output", earlier, "--force"]);
        Assert.Equal(1, forced.Code);
        Assert.DoesNotContain("already holds", forced.Err);

        var mine = dir.Sub("mine");
        var files = UserFiles(mine);
        AssertOneLineError(Run([.. common, "--output", mine, "--force"]), "not created by semblance");
        AssertUntouched(mine, files);
    }

    [Fact]
    public void ADirectoryHoldingOnlyItsMarkerIsReusedAndAnotherKindIsRefused()
    {
        var dir = Path.Combine(SearchTestData.TempDir(), "out");
        Assert.Equal(OutputDirectory.State.New, OutputDirectory.Claim(dir, "semblance-model", false, "pass --force"));
        // A run that failed before writing anything left only the marker: the next run may use the directory.
        Assert.Equal(OutputDirectory.State.New, OutputDirectory.Claim(dir, "semblance-model", false, "pass --force"));
        File.WriteAllText(Path.Combine(dir, "config.json"), "{}");
        Assert.Contains("already holds a semblance-model; pass --force", Assert.Throws<SemblanceException>(() => OutputDirectory.Claim(dir, "semblance-model", false, "pass --force")).Message);
        Assert.Equal(OutputDirectory.State.Ours, OutputDirectory.Claim(dir, "semblance-model", true, "pass --force"));
        Assert.Contains("holds a semblance-model, not a semblance-index", Assert.Throws<SemblanceException>(() => OutputDirectory.Claim(dir, "semblance-index", true, "")).Message);
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(dir)!, "file"), "x");
        Assert.Contains("is a file", Assert.Throws<SemblanceException>(() => OutputDirectory.Check(Path.Combine(Path.GetDirectoryName(dir)!, "file"), "k", true, "")).Message);
    }
}
