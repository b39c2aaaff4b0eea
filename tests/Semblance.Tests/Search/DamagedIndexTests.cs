// Regression tests for issue 13: damaged index directories (checksums re-sealed, so the damage reaches the decoders)
// and vectors whose values or scores are not finite fail with one-line errors instead of crashing or going silent.
using System.Buffers.Binary;
using System.Text;
using Semblance.Fuzz;
using Semblance.IO;
using Semblance.Search;
using Semblance.Tests.Cli;

namespace Semblance.Tests.Search;

public class DamagedIndexTests
{
    private static string Write(IReadOnlyDictionary<string, byte[]> files)
    {
        var dir = SearchTestData.TempDir();
        Templates.WriteIndex(dir, files);
        return dir;
    }

    private static InputFormatException LoadFails(IReadOnlyDictionary<string, byte[]> files)
    {
        var dir = Write(files);
        return Assert.Throws<InputFormatException>(() =>
        {
            using var index = VectorIndex.Load(dir);
            index.Search(new float[index.Dimension], 3);
        });
    }

    private static Dictionary<string, byte[]> WithManifest(string kind, Func<string, string> edit)
    {
        var files = new Dictionary<string, byte[]>(Templates.Index(kind));
        var line = Encoding.UTF8.GetString(files[IndexManifest.FileName]).Split('\n')[0];
        var edited = edit(line);
        Assert.NotEqual(line, edited);
        files[IndexManifest.FileName] = Templates.SealManifest(Encoding.UTF8.GetBytes(edited));
        return files;
    }

    [Theory]
    [InlineData("\"dimension\":8", "\"dimension\":\"8\"", "field 'dimension' has the wrong type")]
    [InlineData("\"format\":\"semblance-index\"", "\"format\":7", "field 'format' has the wrong type")]
    [InlineData("\"count\":39", "\"count\":1e400", "field 'count' has the wrong type")]
    [InlineData("\"files\":{", "\"files\":{\"x\":null,", "files.\"x\" is not an object")]
    [InlineData("\"files\":{", "\"files\":[],\"y\":{", "'files' is missing or not an object")]
    [InlineData("\"kind\":\"flat\"", "\"kind\":\"flat\",\"kind\":\"hnsw\"", "appears twice")]
    [InlineData("\"parameters\":{", "\"parameters\":{\"\\udfff\":1,", "lone UTF-16 surrogate")]
    public void ManifestWithWrongTypesOrDuplicateKeysIsAClearError(string find, string replace, string expected)
    {
        var e = LoadFails(WithManifest("flat", l => l.Replace(find, replace)));
        Assert.Contains(expected, e.Message);
        Assert.Contains(IndexManifest.FileName, e.Message);
    }

    [Fact]
    public void ItemsCountThatWrapsIsAClearError()
    {
        var payload = Templates.Payload(Templates.Index("flat"), "items");
        // 0x0F0F0F0F0F0F0F0F x 17 = 2^64 - 1: the old size check wrapped around and passed.
        BinaryPrimitives.WriteInt64LittleEndian(payload, 0x0F0F0F0F0F0F0F0F);
        Assert.Contains("bad count", LoadFails(Templates.WithPayload(Templates.Index("flat"), "items", payload)).Message);
    }

    [Fact]
    public void ItemsWithANonUtf8IdIsAClearError()
    {
        var payload = Templates.Payload(Templates.Index("flat"), "items");
        long n = BinaryPrimitives.ReadInt64LittleEndian(payload);
        payload[8 + 17 * n] = 0xFF;
        Assert.Contains("not valid UTF-8", LoadFails(Templates.WithPayload(Templates.Index("flat"), "items", payload)).Message);
    }

    /// <summary>Graph payload layout: n, entry, max level (int32), levels (n bytes), layer-0 lists, then upper-layer lists.</summary>
    private static (byte[] Payload, int N, int M, int FirstUpper, int UpperOffset) Graph()
    {
        var payload = Templates.Payload(Templates.Index("hnsw"), "graph");
        int n = BinaryPrimitives.ReadInt32LittleEndian(payload), m = 4;
        int stride0 = 2 * m + 1, levelsAt = 12, links0At = levelsAt + n, upperAt = links0At + n * stride0 * 4;
        int first = Enumerable.Range(0, n).First(i => payload[levelsAt + i] > 0);
        int offset = upperAt;
        for (int i = 0; i < first; i++) offset += payload[levelsAt + i] * (m + 1) * 4;
        return (payload, n, m, first, offset);
    }

    [Fact]
    public void HnswUpperLayerNeighbourOutOfRangeIsRejected()
    {
        var (payload, n, _, first, offset) = Graph();
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(offset), 1);
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(offset + 4), n + 1000);
        var e = LoadFails(Templates.WithPayload(Templates.Index("hnsw"), "graph", payload));
        Assert.Contains($"node {first}, layer 1: neighbour id {n + 1000} is out of range", e.Message);
    }

    [Fact]
    public void HnswUpperLayerCountAboveMIsRejected()
    {
        var (payload, _, m, first, offset) = Graph();
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(offset), m + 1);
        var e = LoadFails(Templates.WithPayload(Templates.Index("hnsw"), "graph", payload));
        Assert.Contains($"node {first} has {m + 1} neighbours on layer 1; the layer holds at most {m}", e.Message);
    }

    [Fact]
    public void HnswLayerZeroCountAbove2MIsRejectedNotClamped()
    {
        var (payload, n, m, _, _) = Graph();
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(12 + n), 2 * m + 1);
        var e = LoadFails(Templates.WithPayload(Templates.Index("hnsw"), "graph", payload));
        Assert.Contains($"node 0 has {2 * m + 1} neighbours on layer 0; the layer holds at most {2 * m}", e.Message);
    }

    [Fact]
    public void Int8QuantiserWithNaNIsRejected()
    {
        var payload = Templates.Payload(Templates.Index("flat-int8"), "quantizer");
        BinaryPrimitives.WriteSingleLittleEndian(payload.AsSpan(4), float.NaN);
        var e = LoadFails(Templates.WithPayload(Templates.Index("flat-int8"), "quantizer", payload));
        Assert.Contains("dimension 1 has min NaN", e.Message);
    }

    [Fact]
    public void StoredInfinityMakesSearchAClearErrorNotAJsonWriterCrash()
    {
        var payload = Templates.Payload(Templates.Index("flat"), "vectors");
        for (int i = 0; i < payload.Length; i += 4) BinaryPrimitives.WriteSingleLittleEndian(payload.AsSpan(i), float.PositiveInfinity);
        var dir = Write(Templates.WithPayload(Templates.Index("flat"), "vectors", payload));
        var q = SearchTestData.TempDir();
        Npy.WriteFloat32(Path.Combine(q, "q.npy"), Enumerable.Repeat(1f, Templates.IndexDimension).ToArray(), 1, Templates.IndexDimension);
        var (code, output, err) = CliAppTests.Run("search", "--index", dir, "--query-vectors", Path.Combine(q, "q.npy"));
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Contains("query 0: the score against item", err);
    }

    [Fact]
    public void FlatF16RefusesValuesBeyondItsRange()
    {
        using var index = new FlatIndex(2, Metric.InnerProduct, FlatEncoding.Float16);
        var e = Assert.Throws<InputFormatException>(() => index.Add(new float[] { 1, 2, 70000, 1 }, ["a", "b"]));
        Assert.Contains("vector 1: value 70000 at dimension 0 is beyond float16's range", e.Message);
        Assert.Equal(0, index.Count);
        index.Add(new float[] { 65504, -65504 }, ["max"]);
        Assert.Equal("max", index.Search(new float[] { 1, 0 }, 1)[0].Id);
    }

    [Theory]
    [InlineData(Metric.InnerProduct)]
    [InlineData(Metric.L2)]
    public void VectorsWhoseScoresWouldOverflowAreRejectedWithTheRow(Metric metric)
    {
        using var index = new FlatIndex(2, metric);
        var e = Assert.Throws<InputFormatException>(() => index.Add(new float[] { 1, 2, 1e19f, 1e19f }, ["a", "b"]));
        Assert.StartsWith("vector 1: squared norm 2E+38 exceeds", e.Message);
        index.Add(new float[] { 1, 2 }, ["a"]);
        Assert.StartsWith("query 0: squared norm", Assert.Throws<InputFormatException>(() => index.Search(new float[] { 1e19f, 0 }, 1)).Message);
        // The bound keeps every score finite: the largest vectors allowed still score.
        float big = MathF.Sqrt(VectorIndex.MaxSquaredNorm / 2.0001f);
        index.Add(new float[] { big, big }, ["big"]);
        Assert.All(index.Search(new float[] { -big, -big }, 2), h => Assert.True(float.IsFinite(h.Score)));
    }

    [Fact]
    public void CosineNormalisesHugeVectorsInsteadOfZeroingThem()
    {
        using var index = new FlatIndex(2, Metric.Cosine);
        index.Add(new float[] { 3e19f, 4e19f, 1, 0 }, ["huge", "x"]);
        var hit = index.Search(new float[] { 3, 4 }, 1)[0];
        Assert.Equal("huge", hit.Id);
        Assert.Equal(1f, hit.Score, 5);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteVectorsNameTheRowOnAddAndSearch(float bad)
    {
        var dir = SearchTestData.TempDir();
        Npy.WriteFloat32(Path.Combine(dir, "x.npy"), new float[] { 1, 0, 0, 1, 0, bad }, 3, 2);
        var (code, _, err) = CliAppTests.Run("index", "build", "--output", Path.Combine(dir, "idx"), "--vectors", Path.Combine(dir, "x.npy"));
        Assert.Equal(1, code);
        Assert.Contains("vector 2: value at dimension 1 is", err);
        Npy.WriteFloat32(Path.Combine(dir, "ok.npy"), new float[] { 1, 0 }, 1, 2);
        Assert.Equal(0, CliAppTests.Run("index", "build", "--output", Path.Combine(dir, "idx"), "--vectors", Path.Combine(dir, "ok.npy")).Code);
        (code, _, err) = CliAppTests.Run("search", "--index", Path.Combine(dir, "idx"), "--query-vectors", Path.Combine(dir, "x.npy"));
        Assert.Equal(1, code);
        Assert.Contains("query 2: value at dimension 1 is", err);
    }
}
