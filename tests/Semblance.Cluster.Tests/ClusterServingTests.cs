using System.Net.Http.Json;
using System.Text.Json;
using Semblance.Embeddings;
using Semblance.Server;
using Semblance.Tests;

namespace Semblance.Cluster.Tests;

/// <summary>
/// The HTTP front end on the cluster: /v1/embeddings encoded by encoder workers, /search by a sharded index. Part of
/// <see cref="ClusterTests"/> so both share one cluster and one storage directory (a second fixture would delete it).
/// </summary>
public sealed partial class ClusterTests
{
    [SharedFact]
    public async Task The_server_answers_embeddings_and_search_from_the_cluster_as_a_local_server_would()
    {
        var input = Path.Combine(ClusterFixture.Storage, $"serve-{Guid.NewGuid():N}.txt");
        string[] lines = ["the river bank at dawn", "a loan from the bank", "piano lessons on monday", "the cat sleeps", "rain over the harbour", "a dog in the park"];
        File.WriteAllLines(input, lines);
        var name = $"serve{Guid.NewGuid():N}";
        var client = fixture.Cluster.Client;
        await client.GetGrain<IClusterIndex>(name).Build(new ClusterIndexSpec(name, 2, 2, "flat", "cosine", ""), input);

        var encoder = SentenceEncoder.Load(ClusterFixture.Model, new EncoderOptions { Threads = 1 });
        using var local = SentenceEncoder.Load(ClusterFixture.Model, new EncoderOptions { Threads = 1 });
        var options = new EmbeddingServerOptions
        {
            Urls = ["http://127.0.0.1:0"],
            RemoteEncoder = ClusterServing.Encoder(client),
            RemoteSearch = ClusterServing.Search(client, name, TimeSpan.FromSeconds(30)),
        };
        await using var server = EmbeddingServer.Create(encoder, options);
        await server.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(server.Addresses[0]) };

        // Embeddings computed on the workers equal the local encoder's (normalised by the server as usual).
        var embedded = await http.PostAsJsonAsync("/v1/embeddings", new { input = new[] { lines[0], lines[2] } });
        Assert.True(embedded.IsSuccessStatusCode, await embedded.Content.ReadAsStringAsync());
        using var e = JsonDocument.Parse(await embedded.Content.ReadAsStringAsync());
        var expected = local.EncodeFlat([lines[0], lines[2]]);
        var got = e.RootElement.GetProperty("data").EnumerateArray().SelectMany(d => d.GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle())).ToArray();
        Assert.Equal(expected.Length, got.Length);
        Assert.All(expected.Zip(got), p => Assert.True(Math.Abs(p.First - p.Second) < 1e-4f, $"{p.First} vs {p.Second}"));

        // /search: the coordinator's exact merge, in the server's shape, with the missing shards (none) named.
        var searched = await http.PostAsJsonAsync("/search", new { queries = new[] { "money and loans", "a sleeping cat" }, k = 2 });
        Assert.True(searched.IsSuccessStatusCode, await searched.Content.ReadAsStringAsync());
        using var s = JsonDocument.Parse(await searched.Content.ReadAsStringAsync());
        var results = s.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(2, results.Length);
        foreach (var (result, query) in results.Zip(new[] { "money and loans", "a sleeping cat" }))
        {
            var direct = await client.GetGrain<IClusterIndex>(name).Search(query, 2, TimeSpan.FromSeconds(30));
            Assert.Equal(direct.Hits.Select(h => h.Id), result.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("id").GetString()));
            Assert.Equal(0, result.GetProperty("missing_shards").GetArrayLength());
        }
        // A filter has no meaning for a cluster index: a clear 400.
        var filtered = await http.PostAsJsonAsync("/search", new { query = "cat", filter = new { lang = "en" } });
        Assert.Equal(400, (int)filtered.StatusCode);
        await server.StopAsync();
    }
}
