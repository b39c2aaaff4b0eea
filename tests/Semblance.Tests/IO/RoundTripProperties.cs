// FsCheck properties over the formats Semblance writes: write → read is the identity, and any truncation of a
// valid file is a clear error (a SemblanceException), never a crash or a silently shorter result.
using FsCheck;
using FsCheck.Xunit;
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Search;
using Semblance.Tests.Search;

namespace Semblance.Tests.IO;

public class RoundTripProperties
{
    private static string NewDir() => SearchTestData.TempDir();

    private static float[] Floats(int[] bits) => bits.Select(BitConverter.Int32BitsToSingle).ToArray();

    private static float[] Finite(int[] bits, float scale = 1) =>
        bits.Select(b => (float)((b % 100_000) / 1000.0 * scale)).ToArray();

    /// <summary>Every truncation of the file at <paramref name="path"/> (all of them when short, a spread otherwise).</summary>
    private static IEnumerable<int> Cuts(long length) =>
        length <= 400 ? Enumerable.Range(0, (int)length) : Enumerable.Range(0, 400).Select(i => (int)(i * length / 400));

    private static void EveryTruncationFails(string path, Action read)
    {
        var bytes = File.ReadAllBytes(path);
        foreach (int cut in Cuts(bytes.Length))
        {
            File.WriteAllBytes(path, bytes[..cut]);
            Assert.ThrowsAny<SemblanceException>(read);
        }
        File.WriteAllBytes(path, bytes);
    }

    [Property(MaxTest = 60)]
    public void NpyWriteThenReadIsTheIdentityForEveryBitPattern(int[] bits, PositiveInt columns)
    {
        int cols = Math.Min(columns.Get, 50);
        int rows = bits.Length / cols;
        var values = Floats(bits)[..(rows * cols)];
        var path = Path.Combine(NewDir(), "x.npy");
        Semblance.IO.Npy.WriteFloat32(path, values, rows, cols);
        var m = Semblance.IO.Npy.ReadFloat32(path);
        Assert.Equal((rows, cols), (m.Rows, m.Columns));
        Assert.Equal(values.Select(BitConverter.SingleToInt32Bits), m.Data.Select(BitConverter.SingleToInt32Bits));
        EveryTruncationFails(path, () => Semblance.IO.Npy.ReadFloat32(path));
    }

    [Property(MaxTest = 40)]
    public void SafeTensorsWriteThenReadIsTheIdentity(NonEmptyArray<int> a, NonEmptyArray<int> b, bool half)
    {
        var x = Finite(a.Get);
        var y = Finite(b.Get);
        var w = new SafeTensorsWriter();
        w.Metadata["note"] = "ü\u2028";
        w.Add("x", [x.Length], x);
        w.Add("layer.0.y", [1, y.Length], y, half ? "F16" : "F32");
        var path = Path.Combine(NewDir(), "m.safetensors");
        w.Save(path);
        using (var f = SafeTensorsFile.Open(path))
        {
            Assert.Equal("ü\u2028", f.Metadata["note"]);
            Assert.Equal(x, f.ReadFloat("x").Span.ToArray());
            Assert.Equal(half ? y.Select(v => (float)(Half)v) : y, f.ReadFloat("layer.0.y").Span.ToArray());
            Assert.Equal([1, y.Length], f.Info("layer.0.y").Shape);
        }
        EveryTruncationFails(path, () => SafeTensorsFile.Open(path).Dispose());
    }

    [Property(MaxTest = 30)]
    public void WhiteningSaveThenLoadIsTheIdentity(NonEmptyArray<int> bits, PositiveInt k)
    {
        var mean = Finite(bits.Get);
        int d = mean.Length, kk = Math.Min(k.Get, d);
        var kernel = Enumerable.Range(0, d * kk).Select(i => (float)Math.Sin(i)).ToArray();
        var path = Path.Combine(NewDir(), "w.safetensors");
        new Whitening(mean, kernel, kk, 17, 0.5).Save(path);
        var back = Whitening.Load(path);
        Assert.Equal(mean, back.Mean.ToArray());
        Assert.Equal(kernel, back.Kernel.ToArray());
        Assert.Equal(17, back.Count);
        EveryTruncationFails(path, () => Whitening.Load(path));
    }

    [Property(MaxTest = 25)]
    public void IndexSaveThenLoadKeepsItemsAndResultsAndTruncationFails(NonEmptyArray<int> bits, byte kindByte, byte metricByte, string[] payloads)
    {
        string kind = new[] { "flat", "flat-f16", "flat-int8", "hnsw" }[kindByte % 4];
        var metric = (Metric)(metricByte % 3);
        const int d = 4;
        var values = Finite(bits.Get, 0.01f);
        int n = values.Length / d;
        if (n == 0) return;
        values = values[..(n * d)];
        for (int i = 0; i < n; i++) values[i * d] += 1 + i;   // no all-zero vector (cosine)
        var ids = Enumerable.Range(0, n).Select(i => $"id-{i}-é").ToArray();
        var texts = Enumerable.Range(0, n).Select(i => payloads is { Length: > 0 } ? payloads[i % payloads.Length] : null).ToArray();
        using VectorIndex index = kind switch
        {
            "hnsw" => new HnswIndex(d, metric, new HnswOptions { M = 4, EfConstruction = 16 }),
            "flat-f16" => new FlatIndex(d, metric, FlatEncoding.Float16),
            "flat-int8" => new FlatIndex(d, metric, FlatEncoding.Int8),
            _ => new FlatIndex(d, metric),
        };
        index.Threads = 1;
        index.Add(values, ids, texts);
        if (n > 1) index.Remove([ids[0]]);
        var dir = NewDir();
        index.Save(dir);
        var before = index.SearchBatch(values, n, new SearchOptions { EfSearch = 64 });
        using (var loaded = VectorIndex.Load(dir))
        {
            Assert.Equal(index.Count, loaded.Count);
            Assert.Equal(kind, loaded.Kind);
            var after = loaded.SearchBatch(values, n, new SearchOptions { EfSearch = 64 });
            Assert.Equal(before.Select(r => r.Select(h => (h.Id, h.Score, h.Text))), after.Select(r => r.Select(h => (h.Id, h.Score, h.Text))));
        }
        foreach (var file in Directory.EnumerateFiles(dir).Where(f => f.EndsWith(".bin", StringComparison.Ordinal) || f.EndsWith(IndexManifest.FileName, StringComparison.Ordinal)))
            EveryTruncationFails(file, () => VectorIndex.Load(dir).Dispose());
    }
}
