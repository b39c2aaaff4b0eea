// One replica of one index shard. Its data is a standard index directory on the shared storage (so `semblance
// search --index` and every export path read a shard as they read any index); replicas open the same directory.
using System.Globalization;
using System.Text;
using Orleans;
using Orleans.Placement;
using Semblance.IO;
using Semblance.Search;

namespace Semblance.Cluster;

[ActivationCountBasedPlacement]
public sealed class ShardGrain(SiloModel model) : Grain, IShard
{
    private SemanticIndex? _index;

    /// <summary>The shard an item id belongs to: CRC-32C of its UTF-8 bytes, modulo the shard count.</summary>
    public static int ShardOf(string id, int shards) => (int)(Crc32C.Compute(Encoding.UTF8.GetBytes(id)) % (uint)shards);

    public static string DirectoryOf(ClusterIndexSpec spec, int shard) => Path.Combine(spec.Directory, $"shard-{shard:D3}");

    public async Task<long> Build(ClusterIndexSpec spec, int shard, string input)
    {
        var texts = new List<string>();
        var ids = new List<string>();
        long line = 0;
        foreach (var text in TextLines.ReadFile(input))
        {
            var id = (line++).ToString(CultureInfo.InvariantCulture);
            if (ShardOf(id, spec.Shards) != shard) continue;
            texts.Add(text);
            ids.Add(id);
        }
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
        _index?.Dispose();
        _index = null;
        return count;
    }

    /// <summary>The shard's index, opened on first use; missing or damaged files are an error naming the directory.</summary>
    private SemanticIndex Open()
    {
        if (_index is not null) return _index;
        var key = this.GetPrimaryKeyString();
        var parts = key.Split('/');
        if (parts.Length != 3 || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out int shard))
            throw new SemblanceException($"{key}: not a shard key (index/shard/replica)");
        var dir = Path.Combine(model.IndexDirectory(parts[0]), $"shard-{shard:D3}");
        var index = SemanticIndex.Open(dir, new SemanticIndexOptions { Threads = model.Settings.Threads });
        _index = index;
        return index;
    }

    public async Task<float[]> EncodeQuery(string query)
    {
        var index = Open();
        var recorded = index.Encoder ?? throw new SemblanceException($"{index.Directory}: records no encoder");
        return await model.Use(encoder =>
        {
            if (!index.Encodes(encoder)) index.UseEncoder(encoder, recorded.Model, recorded.Whitening);
            return index.EncodeQueries([query]);
        });
    }

    public Task<ClusterHit[]> Search(float[] query, int k) =>
        Task.FromResult(Open().Vectors.Search(query, k).Select(h => new ClusterHit(h.Id, h.Score, h.Text)).ToArray());

    public Task<long> Count() => Task.FromResult(Open().Vectors.Count);

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _index?.Dispose();
        _index = null;
        return Task.CompletedTask;
    }
}
