// Index directory: round trips for every kind, checksums, truncation, newer versions, the writer lock, bad input.
using Semblance.Search;

namespace Semblance.Tests.Search;

public class IndexFilesTests
{
    private static VectorIndex Create(string kind, int d, Metric metric) => kind switch
    {
        "hnsw" => new HnswIndex(d, metric, new HnswOptions { M = 8 }),
        "flat-int8" => new FlatIndex(d, metric, FlatEncoding.Int8),
        "flat-f16" => new FlatIndex(d, metric, FlatEncoding.Float16),
        _ => new FlatIndex(d, metric),
    };

    [Theory]
    [InlineData("flat", Metric.Cosine)]
    [InlineData("flat", Metric.L2)]
    [InlineData("flat-int8", Metric.L2)]
    [InlineData("flat-f16", Metric.InnerProduct)]
    [InlineData("hnsw", Metric.Cosine)]
    public void SaveLoadRoundTrip(string kind, Metric metric)
    {
        const int d = 20, n = 300;
        var xb = SearchTestData.Clustered(n, d, 21);
        var xq = SearchTestData.Clustered(7, d, 22);
        var dir = SearchTestData.TempDir();
        SearchHit[][] before;
        using (var index = Create(kind, d, metric))
        {
            index.Encoder = new IndexEncoder { Model = "/models/x", ModelChecksum = "sha256:00", Pooling = "mean", Normalize = true, QueryPrompt = "query: " };
            index.Add(xb, SearchTestData.Ids(n), Enumerable.Range(0, n).Select(i => i % 2 == 0 ? $"text {i} ü" : null).ToArray());
            index.Remove(["4"]);
            before = index.SearchBatch(xq, 6);
            index.Save(dir);
        }
        using var loaded = VectorIndex.Load(dir);
        Assert.Equal((kind, metric, d, n - 1L), (loaded.Kind, loaded.Metric, loaded.Dimension, loaded.Count));
        Assert.Equal(new IndexEncoder { Model = "/models/x", ModelChecksum = "sha256:00", Pooling = "mean", Normalize = true, QueryPrompt = "query: " }, loaded.Encoder);
        var after = loaded.SearchBatch(xq, 6);
        for (int q = 0; q < xq.Length / d; q++)
        {
            Assert.Equal(before[q].Select(h => (h.Id, h.Text)), after[q].Select(h => (h.Id, h.Text)));
            Assert.Equal(before[q].Select(h => h.Score), after[q].Select(h => h.Score));
        }
        var info = VectorIndex.ReadInfo(dir);
        Assert.Equal(1, info.Generation);
        Assert.Equal(n, info.Slots);
    }

    private static string SavedFlat(int n = 50, int d = 8)
    {
        var dir = SearchTestData.TempDir();
        using var index = new FlatIndex(d, Metric.Cosine);
        index.Add(SearchTestData.Clustered(n, d, 23), SearchTestData.Ids(n));
        index.Save(dir);
        return dir;
    }

    [Fact]
    public void CorruptDataFileIsDetectedByChecksum()
    {
        var dir = SavedFlat();
        var path = Path.Combine(dir, VectorIndex.ReadInfo(dir).Files["vectors"].Name);
        var bytes = File.ReadAllBytes(path);
        bytes[IndexDataFile.HeaderBytes + 100] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InputFormatException>(() => VectorIndex.Load(dir));
        Assert.Contains("checksum mismatch", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void TruncatedDataFileIsReported()
    {
        var dir = SavedFlat();
        var path = Path.Combine(dir, VectorIndex.ReadInfo(dir).Files["items"].Name);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);
        var e = Assert.Throws<InputFormatException>(() => VectorIndex.Load(dir));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void CorruptManifestIsDetected()
    {
        var dir = SavedFlat();
        var path = Path.Combine(dir, IndexManifest.FileName);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"count\":50", "\"count\":51"));
        var e = Assert.Throws<InputFormatException>(() => VectorIndex.Load(dir));
        Assert.Contains("checksum mismatch", e.Message);
    }

    [Fact]
    public void NewerFormatVersionIsRejectedClearly()
    {
        var dir = SavedFlat();
        var path = Path.Combine(dir, IndexManifest.FileName);
        var json = File.ReadAllText(path).Split('\n')[0].Replace($"\"version\":{IndexManifest.CurrentVersion}", "\"version\":7");
        File.WriteAllText(path, json + "\ncrc32c " + Crc32C.Compute(System.Text.Encoding.UTF8.GetBytes(json)).ToString("x8") + "\n");
        var e = Assert.Throws<InputFormatException>(() => VectorIndex.Load(dir));
        Assert.Contains("format version 7", e.Message);
        Assert.Contains("newer", e.Message);
    }

    [Fact]
    public void SecondWriterGetsAClearErrorAndTheIndexIsUntouched()
    {
        var dir = SavedFlat();
        var manifest = File.ReadAllText(Path.Combine(dir, IndexManifest.FileName));
        using (IndexLock.Acquire(dir))
        {
            // The OS lock is per open file, so a second acquisition conflicts like another process would.
            var e = Assert.Throws<SemblanceException>(() => IndexLock.Acquire(dir));
            Assert.Contains("already open for writing", e.Message);
        }
        using (var l = IndexLock.Acquire(dir)) { }
        Assert.Equal(manifest, File.ReadAllText(Path.Combine(dir, IndexManifest.FileName)));
    }

    [Fact]
    public void BadInputIsRejectedWithoutChangingTheIndex()
    {
        using var index = new FlatIndex(4, Metric.Cosine);
        Assert.Contains("the index is empty", Assert.Throws<SemblanceException>(() => index.SearchBatch(new float[4], 1)).Message);
        index.Add(new float[] { 1, 0, 0, 0, 0, 1, 0, 0 }, ["a", "b"]);
        Assert.Contains("dimension 3 but the index has dimension 4", Assert.Throws<InputFormatException>(() => index.Add(new float[6], ["c", "d"])).Message);
        Assert.Contains("NaN", Assert.Throws<InputFormatException>(() => index.Add(new float[] { 1, float.NaN, 0, 0 }, ["c"])).Message);
        Assert.Contains("Infinity", Assert.Throws<InputFormatException>(() => index.SearchBatch(new float[] { 1, float.PositiveInfinity, 0, 0 }, 1)).Message);
        Assert.Contains("all zeros", Assert.Throws<InputFormatException>(() => index.Add(new float[4], ["c"])).Message);
        Assert.Contains("already in the index", Assert.Throws<InputFormatException>(() => index.Add(new float[] { 1, 1, 0, 0 }, ["a"])).Message);
        Assert.Contains("not a multiple", Assert.Throws<InputFormatException>(() => index.SearchBatch(new float[5], 1)).Message);
        Assert.Equal(2, index.Count);
        // k larger than the index: all items, best first (no -1 padding as in FAISS).
        Assert.Equal(["a", "b"], index.SearchBatch(new float[] { 1, 0.1f, 0, 0 }, 10)[0].Select(h => h.Id));
    }

    [Fact]
    public void NotAnIndexIsAClearError()
    {
        var dir = SearchTestData.TempDir();
        Assert.Contains("not an index", Assert.Throws<InputFormatException>(() => VectorIndex.Load(dir)).Message);
    }

    [Fact]
    public void Crc32CMatchesKnownValueInBothImplementations()
    {
        var data = "123456789"u8.ToArray();
        Assert.Equal(0xE3069283u, Crc32C.Compute(data));
        Assert.Equal(0xE3069283u, ~Crc32C.AppendSoftware(0xFFFFFFFFu, data));
        Assert.Equal(0xE3069283u, ~Crc32C.AppendHardware(0xFFFFFFFFu, data));
    }

    [Fact]
    public void SavingAgainSwitchesGenerationAndRemovesOldFiles()
    {
        var dir = SavedFlat();
        var first = VectorIndex.ReadInfo(dir);
        File.WriteAllText(Path.Combine(dir, ".stale.123.tmp"), "debris of a crashed writer");
        using (var index = VectorIndex.Load(dir))
        {
            index.Add(SearchTestData.Clustered(5, 8, 24), SearchTestData.Ids(5, 100));
            index.Save(dir);
        }
        var second = VectorIndex.ReadInfo(dir);
        Assert.Equal(first.Generation + 1, second.Generation);
        var names = Directory.GetFiles(dir).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(new[] { IndexLock.FileName, IndexManifest.FileName, Semblance.IO.OutputDirectory.MarkerFile }.Concat(second.Files.Values.Select(f => f.Name)).Order(), names);
    }
}
