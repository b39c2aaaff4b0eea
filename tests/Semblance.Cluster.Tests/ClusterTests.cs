using System.Globalization;
using Semblance.Embeddings;
using Semblance.IO;
using Semblance.Search;
using Semblance.Tests;

namespace Semblance.Cluster.Tests;

public sealed partial class ClusterTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static string NewDir(string name) => Path.Combine(ClusterFixture.Storage, $"{name}-{Guid.NewGuid():N}");

    /// <summary>Sentences (with repeats unless <paramref name="unique"/>), an empty line and a last line without '\n'.</summary>
    private static string WriteInput(int lines, string newline = "\n", bool unique = false)
    {
        var path = NewDir("input") + ".txt";
        string[] words = ["river", "bank", "money", "guitar", "piano", "cat", "dog", "rain", "sun", "train"];
        var text = string.Join(newline, Enumerable.Range(0, lines).Select(i => i == 7 ? "" : $"{words[i % 10]} {words[i * 7 % 10]} number {(unique ? i : i % 50)}"));
        File.WriteAllText(path, text);
        return path;
    }

    private static float[] LocalVectors(string input)
    {
        using var encoder = SentenceEncoder.Load(ClusterFixture.Model, new EncoderOptions { Threads = 1 });
        return encoder.EncodeFlat(TextLines.ReadFile(input).ToArray());
    }

    /// <summary>Counts the rows equal to the single-machine encoding of their own input line (each line exactly once).</summary>
    private static int RowsMatchingTheirLine(float[] cluster, float[] local, int dimension)
    {
        int n = local.Length / dimension, matched = 0;
        for (int i = 0; i < n; i++)
        {
            bool same = true;
            for (int j = 0; j < dimension && same; j++) same = Math.Abs(cluster[i * dimension + j] - local[i * dimension + j]) < 1e-4f;
            if (same) matched++;
        }
        return matched;
    }

    [Fact]
    public void Split_cuts_at_line_ends_as_TextLines_reads()
    {
        foreach (var newline in new[] { "\n", "\r\n" })
        {
            var input = WriteInput(23, newline);
            var chunks = EncodeJobRunner.Split(input, "unused", 5);
            Assert.Equal([5, 5, 5, 5, 3], chunks.Select(c => c.Count));
            var expected = TextLines.ReadFile(input).ToArray();
            Assert.Equal(expected, chunks.SelectMany(ChunkFile.ReadLines));
            Assert.Equal(new FileInfo(input).Length, chunks.Sum(c => c.Length));
        }
    }

    [Fact]
    public void Merge_is_the_exact_top_k_and_orders_l2_by_distance()
    {
        ClusterHit[] hits = [new("a", 0.5f, null), new("b", 0.9f, null), new("c", 0.1f, null), new("d", 0.7f, null)];
        Assert.Equal(["b", "d"], ClusterIndexGrain.Merge(hits, 2, Metric.Cosine).Select(h => h.Id));
        Assert.Equal(["c", "a"], ClusterIndexGrain.Merge(hits, 2, Metric.L2).Select(h => h.Id));
    }

    [SharedFact]
    public async Task Encode_job_writes_every_line_exactly_once_in_order()
    {
        var input = WriteInput(301);
        var output = NewDir("encoded");
        var result = await EncodeJobRunner.RunAsync(fixture.Cluster.Client, input, output, new EncodeJobOptions { ChunkLines = 17, Parallel = 3 });
        Assert.Equal(301, result.Lines);
        Assert.Equal(301, result.Rows);
        Assert.Equal(301, result.Verified);
        var vectors = Npy.ReadFloat32(Path.Combine(output, "vectors.npy"));
        Assert.Equal(301, vectors.Rows);
        Assert.Equal(301, RowsMatchingTheirLine(vectors.Data, LocalVectors(input), vectors.Columns));
    }

    [SharedFact]
    public async Task Interrupted_job_resumes_and_still_writes_each_line_once()
    {
        var input = WriteInput(200);
        var output = NewDir("resumed");
        using var cancel = new CancellationTokenSource();
        var stopAfterTwo = new SynchronousProgress(s => { if (s.Committed >= 2) cancel.Cancel(); });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            EncodeJobRunner.RunAsync(fixture.Cluster.Client, input, output, new EncodeJobOptions { ChunkLines = 10, Parallel = 1 }, stopAfterTwo, cancel.Token));
        int committedBefore = Directory.GetFiles(Path.Combine(output, "chunks"), "chunk-*.bin").Length;
        Assert.InRange(committedBefore, 2, 19);
        Assert.False(File.Exists(Path.Combine(output, "vectors.npy")));
        var status = await fixture.Cluster.Client.GetGrain<IEncodeJob>(Path.GetFullPath(output)).Status();
        Assert.True(status.Committed >= 2);

        var result = await EncodeJobRunner.RunAsync(fixture.Cluster.Client, input, output, new EncodeJobOptions { ChunkLines = 10, Parallel = 2 });
        Assert.Equal((200, 200, 200), (result.Lines, result.Rows, result.Verified));
        var vectors = Npy.ReadFloat32(Path.Combine(output, "vectors.npy"));
        Assert.Equal(200, RowsMatchingTheirLine(vectors.Data, LocalVectors(input), vectors.Columns));
    }

    [Fact]
    public async Task A_second_job_into_a_busy_output_is_refused()
    {
        var a = WriteInput(30);
        var b = WriteInput(40);
        var output = Path.GetFullPath(NewDir("busy"));
        var chunks = Path.Combine(output, "chunks");
        var job = fixture.Cluster.Client.GetGrain<IEncodeJob>(output);
        Assert.Null((await job.Start(new EncodeJobSpec(a, output, new FileInfo(a).Length, EncodeJobRunner.Split(a, chunks, 10)))).Error);
        Assert.NotNull((await job.Lease(TimeSpan.FromMinutes(5))).Chunk);
        var refused = await job.Start(new EncodeJobSpec(b, output, new FileInfo(b).Length, EncodeJobRunner.Split(b, chunks, 10)));
        Assert.Contains("already being written", refused.Error);
        Assert.Equal(3, refused.Chunks);
    }

    [SharedFact]
    public async Task Sharded_search_equals_the_single_machine_flat_index()
    {
        var input = WriteInput(240, unique: true);
        var name = $"flat{Guid.NewGuid():N}";
        var index = fixture.Cluster.Client.GetGrain<IClusterIndex>(name);
        long count = await index.Build(new ClusterIndexSpec(name, 3, 2, "flat", "cosine", ""), input);
        Assert.Equal(240, count);
        var counts = new long[3];
        for (int s = 0; s < 3; s++) counts[s] = await fixture.Cluster.Client.GetGrain<IShard>(ClusterIndexGrain.ShardKey(name, s, 1)).Count();
        Assert.Equal(240, counts.Sum());
        Assert.All(counts, c => Assert.True(c > 0));

        using var encoder = SentenceEncoder.Load(ClusterFixture.Model, new EncoderOptions { Threads = 1 });
        using var single = SemanticIndex.Create(new FlatIndex(encoder.Dimension, Metric.Cosine), encoder, ClusterFixture.Model);
        var texts = TextLines.ReadFile(input).ToArray();
        single.Add(texts, texts.Select((_, i) => i.ToString(CultureInfo.InvariantCulture)).ToArray());
        foreach (var query in new[] { "money in the bank", "a dog and a cat", "number 7", "" })
        {
            var r = await index.Search(query, 10, TimeSpan.FromSeconds(30));
            Assert.Empty(r.Missing);
            var expected = single.Search(query, 10);
            Assert.Equal(expected.Select(h => h.Score), r.Hits.Select(h => h.Score), (x, y) => Math.Abs(x - y) < 1e-4f);
            // Equal scores may list tied ids in another order; every id must still be an exact-top-k member.
            Assert.Equal(expected.Select(h => h.Id).Order(), r.Hits.Select(h => h.Id).Order());
        }
    }

    [SharedFact]
    public async Task Added_items_get_the_next_ids_land_on_their_hashed_shards_and_every_replica_sees_them()
    {
        var first = WriteInput(60, unique: true);
        var name = $"add{Guid.NewGuid():N}";
        var index = fixture.Cluster.Client.GetGrain<IClusterIndex>(name);
        Assert.Equal(60, await index.Build(new ClusterIndexSpec(name, 3, 2, "flat", "cosine", ""), first));
        // Every replica opens the first generation before the add, so each must notice the new one.
        for (int i = 0; i < 4; i++) Assert.Empty((await index.Search("piano", 3, TimeSpan.FromSeconds(30))).Missing);

        var more = NewDir("more") + ".txt";
        string[] added = ["a violin concerto in the evening", "snow on the mountain pass", "the ferry leaves at noon"];
        File.WriteAllLines(more, added);
        Assert.Equal(63, await index.Add(more));
        Assert.Equal(63, (await index.Spec())!.Count);

        for (int s = 0; s < 3; s++)
        {
            long expected = ShardGrain.LinesOf(first, 3, s).Ids.Count + ShardGrain.LinesOf(more, 3, s, firstId: 60).Ids.Count;
            for (int r = 0; r < 2; r++)
                Assert.Equal(expected, await fixture.Cluster.Client.GetGrain<IShard>(ClusterIndexGrain.ShardKey(name, s, r)).Count());
        }
        for (int i = 0; i < added.Length; i++)
        {
            // Twice, so both replicas of the shard answer (the coordinator rotates its first replica per query).
            for (int turn = 0; turn < 2; turn++)
            {
                var r = await index.Search(added[i], 1, TimeSpan.FromSeconds(30));
                Assert.Empty(r.Missing);
                Assert.Equal((60 + i).ToString(CultureInfo.InvariantCulture), r.Hits[0].Id);
                Assert.Equal(added[i], r.Hits[0].Text);
            }
        }
        // A second add of the same file is new items: it appends them again with the next ids.
        Assert.Equal(66, await index.Add(more));
    }

    [Fact]
    public void Replicas_of_a_shard_map_to_distinct_silos()
    {
        for (int silos = 1; silos <= 5; silos++)
            for (int shard = 0; shard < 20; shard++)
            {
                var places = Enumerable.Range(0, silos).Select(r => ReplicaPlacementDirector.SiloIndex($"idx/{shard}/{r}", silos)).ToArray();
                Assert.Equal(silos, places.Distinct().Count());
                Assert.All(places, p => Assert.InRange(p, 0, silos - 1));
            }
    }

    [Fact]
    public async Task Replica_activations_of_one_shard_land_on_distinct_silos()
    {
        var management = fixture.Cluster.Client.GetGrain<Orleans.Runtime.IManagementGrain>(0);
        var name = $"place{Guid.NewGuid():N}";
        for (int shard = 0; shard < 4; shard++)
        {
            var silos = new HashSet<string>();
            for (int r = 0; r < 3; r++)
            {
                var grain = fixture.Cluster.Client.GetGrain<IShard>(ClusterIndexGrain.ShardKey(name, shard, r));
                // Any call activates the replica; a shard without files answers with an error, which is fine here.
                await Assert.ThrowsAnyAsync<Exception>(() => grain.Count());
                silos.Add((await management.GetActivationAddress(grain))!.ToString());
            }
            Assert.Equal(3, silos.Count);
        }
    }

    [SharedFact]
    public async Task A_damaged_shard_is_reported_missing_and_left_untouched()
    {
        var input = WriteInput(90);
        var name = $"dmg{Guid.NewGuid():N}";
        var index = fixture.Cluster.Client.GetGrain<IClusterIndex>(name);
        await index.Build(new ClusterIndexSpec(name, 3, 1, "flat", "cosine", ""), input);
        var spec = await index.Spec();
        var shardDir = Path.Combine(spec!.Directory, "shard-001");
        // Damage the shard before any search opened it (the build wrote it; searches open shards lazily).
        var victim = Directory.GetFiles(shardDir).Where(f => !Path.GetFileName(f).StartsWith('.')).OrderByDescending(f => new FileInfo(f).Length).First();
        File.WriteAllBytes(victim, [1, 2, 3]);
        var before = Directory.GetFiles(shardDir).ToDictionary(f => f, File.ReadAllBytes);
        var r = await index.Search("a dog", 5, TimeSpan.FromSeconds(30));
        Assert.Equal([1], r.Missing);
        Assert.Equal(5, r.Hits.Length);
        Assert.NotEmpty(r.Errors);
        Assert.Equal(before.Keys.Order(), Directory.GetFiles(shardDir).Order());
        foreach (var (file, bytes) in before) Assert.Equal(bytes, File.ReadAllBytes(file));
    }

    private sealed class SynchronousProgress(Action<EncodeJobStatus> report) : IProgress<EncodeJobStatus>
    {
        public void Report(EncodeJobStatus value) => report(value);
    }
}
