// One replica of one index shard. Its data is a standard index directory on the shared storage (so `semblance
// search --index` and every export path read a shard as they read any index); replicas open the same directory.
using System.Globalization;
using System.Text;
using Orleans;
using Semblance.IO;
using Semblance.Search;

namespace Semblance.Cluster;

[ReplicaPlacement]
public sealed class ShardGrain(SiloModel model) : Grain, IShard
{
    private SemanticIndex? _index;
    private DateTime _opened;

    /// <summary>The shard an item id belongs to: CRC-32C of its UTF-8 bytes, modulo the shard count.</summary>
    public static int ShardOf(string id, int shards) => (int)(Crc32C.Compute(Encoding.UTF8.GetBytes(id)) % (uint)shards);

    public static string DirectoryOf(ClusterIndexSpec spec, int shard) => Path.Combine(spec.Directory, $"shard-{shard:D3}");

    /// <summary>The lines of <paramref name="input"/> whose id (<paramref name="firstId"/> + line number) hashes to <paramref name="shard"/>.</summary>
    public static (List<string> Texts, List<string> Ids) LinesOf(string input, int shards, int shard, long firstId = 0)
    {
        var texts = new List<string>();
        var ids = new List<string>();
        long line = firstId;
        foreach (var text in TextLines.ReadFile(input))
        {
            var id = (line++).ToString(CultureInfo.InvariantCulture);
            if (ShardOf(id, shards) != shard) continue;
            texts.Add(text);
            ids.Add(id);
        }
        return (texts, ids);
    }

    public async Task<long> Build(ClusterIndexSpec spec, int shard, string input)
    {
        var (texts, ids) = LinesOf(input, spec.Shards, shard);
        var dir = DirectoryOf(spec, shard);
        var metric = VectorIndex.ParseMetric(spec.Metric);
        long count = await model.Use(encoder =>
        {
            VectorIndex vectors = spec.Kind == "hnsw" ? new HnswIndex(encoder.Dimension, metric) : new FlatIndex(encoder.Dimension, metric);
            vectors.Threads = model.Settings.Threads;
            using var index = SemanticIndex.Create(vectors, encoder, model.Settings.Model);
            index.Add(texts, ids);
            VectorIndex.ClaimDirectory(dir, replace: true);
            index.Save(dir);
            return index.Vectors.Count;
        });
        Close();
        return count;
    }

    public async Task<long> Add(ClusterIndexSpec spec, int shard, string input, long firstId)
    {
        var (texts, ids) = LinesOf(input, spec.Shards, shard, firstId);
        var dir = DirectoryOf(spec, shard);
        long count = await model.Use(encoder =>
        {
            // The writer lock across read, add and commit: another writer of this shard fails clearly instead of racing.
            using var writeLock = IndexLock.Acquire(dir);
            using var index = SemanticIndex.Open(dir, new SemanticIndexOptions { Threads = model.Settings.Threads });
            UseSiloEncoder(index, encoder);
            if (texts.Count > 0)
            {
                index.Upsert(texts, ids);
                index.Save();
            }
            return index.Vectors.Count;
        });
        Close();
        return count;
    }

    /// <summary>Encodes with the silo's loaded model as the index records its encoder (prompt, whitening, normalisation).</summary>
    private static void UseSiloEncoder(SemanticIndex index, Embeddings.SentenceEncoder encoder)
    {
        var recorded = index.Encoder ?? throw new SemblanceException($"{index.Directory}: records no encoder");
        if (!index.Encodes(encoder)) index.UseEncoder(encoder, recorded.Model, recorded.Whitening);
    }

    private void Close()
    {
        _index?.Dispose();
        _index = null;
    }

    /// <summary>The shard's index, opened on first use; missing or damaged files are an error naming the directory.</summary>
    private SemanticIndex Open()
    {
        var key = this.GetPrimaryKeyString();
        var parts = key.Split('/');
        if (parts.Length != 3 || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out int shard))
            throw new SemblanceException($"{key}: not a shard key (index/shard/replica)");
        var dir = Path.Combine(model.IndexDirectory(parts[0]), $"shard-{shard:D3}");
        // Another replica may have committed an add: a newer manifest means a new generation to open.
        var stamp = File.GetLastWriteTimeUtc(Path.Combine(dir, IndexManifest.FileName));
        if (_index is not null && stamp == _opened) return _index;
        Close();
        var index = SemanticIndex.Open(dir, new SemanticIndexOptions { Threads = model.Settings.Threads });
        (_index, _opened) = (index, stamp);
        return index;
    }

    public async Task<float[]> EncodeQuery(string query)
    {
        var index = Open();
        return await model.Use(encoder =>
        {
            UseSiloEncoder(index, encoder);
            return index.EncodeQueries([query]);
        });
    }

    public Task<ClusterHit[]> Search(float[] query, int k) =>
        Task.FromResult(Open().Vectors.Search(query, k).Select(h => new ClusterHit(h.Id, h.Score, h.Text)).ToArray());

    public Task<long> Count() => Task.FromResult(Open().Vectors.Count);

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        Close();
        return Task.CompletedTask;
    }
}
