// Geodesic similarity, "from local to global": the metric is trusted only between close neighbours, and longer
// range similarity is measured along the data manifold as a shortest path through a k-NN graph (as in Isomap,
// Tenenbaum et al. 2000). Formulas:
//   graph    G = symmetrised k-NN graph of the indexed items, edge weight δ(x_i, x_j), where
//            δ(a, b) = 1 − a·b for cosine/ip (a, b unit vectors for cosine) and δ(a, b) = ‖a − b‖ for l2;
//   query    E = the e nearest items of q under the index metric (the entry points);
//            D(q, x) = min_{p ∈ E} [ δ(q, p) + SP_G(p, x) ]   (Dijkstra from a virtual source joined to E);
//   score    cosine/ip: 1 − D(q, x) (equals the cosine similarity for the nearest entry point);
//            l2: D(q, x), a path length in distance units (smaller is better).
// Knobs: k (graph neighbours; small k follows the manifold, large k approaches the plain metric) and e (entry
// points). Items not reachable from E are not returned, so a query may get fewer than k hits.

namespace Semblance.Search;

public sealed class GeodesicSimilarity
{
    private readonly VectorIndex _index;
    private readonly List<(int Node, float Weight)>[] _edges;

    private GeodesicSimilarity(VectorIndex index, List<(int, float)>[] edges)
    {
        _index = index;
        _edges = edges;
    }

    /// <summary>Neighbours per item used for the graph.</summary>
    public int GraphNeighbours { get; private init; }

    /// <summary>Builds the k-NN graph over the live items with the index's own search (exact for flat kinds).</summary>
    public static GeodesicSimilarity Build(VectorIndex index, int neighbours = 10)
    {
        if (neighbours < 1) throw new SemblanceException($"geodesic graph needs at least 1 neighbour per item, got {neighbours}");
        if (index.Count == 0) throw new SemblanceException("the index is empty; add items before searching");
        int n = index.SlotCount, d = index.Dimension;
        var live = new List<int>();
        for (int s = 0; s < n; s++) if (!index.Items.IsDeleted(s)) live.Add(s);
        var vectors = new float[(long)live.Count * d];
        for (int i = 0; i < live.Count; i++) index.GetVector(live[i], vectors.AsSpan(i * d, d));
        var knn = index.SearchSlots(vectors, live.Count, neighbours + 1, new SearchOptions { EfSearch = Math.Max(64, 2 * neighbours) });
        var edges = new List<(int, float)>[n];
        for (int s = 0; s < n; s++) edges[s] = [];
        var a = new float[d];
        var b = new float[d];
        for (int i = 0; i < live.Count; i++)
        {
            int s = live[i];
            int added = 0;
            foreach (var (t, _) in knn[i])
            {
                if (t == s || added == neighbours) continue;
                added++;
                index.GetVector(s, a);
                index.GetVector(t, b);
                float w = Delta(index.Metric, a, b);
                edges[s].Add((t, w));
                edges[t].Add((s, w));
            }
        }
        return new GeodesicSimilarity(index, edges) { GraphNeighbours = neighbours };
    }

    private static float Delta(Metric metric, ReadOnlySpan<float> a, ReadOnlySpan<float> b) =>
        metric == Metric.L2 ? MathF.Sqrt(Numerics.Distance.SquaredL2(a, b)) : MathF.Max(0, 1 - Numerics.Distance.Dot(a, b));

    /// <summary>The k items with the shortest graph distance from each query's <paramref name="entryPoints"/> nearest items.</summary>
    public SearchHit[][] Search(ReadOnlySpan<float> queries, int k, int entryPoints = 8)
    {
        if (k < 1) throw new SemblanceException($"k must be at least 1, got {k}");
        int d = _index.Dimension;
        if (queries.Length % d != 0)
            throw new InputFormatException($"queries have {queries.Length} values, not a multiple of the index dimension {d}");
        int nq = queries.Length / d;
        var prepared = _index.PrepareQueries(queries, nq);
        var entries = _index.SearchSlots(prepared, nq, Math.Max(1, entryPoints), new SearchOptions());
        var result = new SearchHit[nq][];
        var v = new float[d];
        var dist = new Dictionary<int, float>();
        var pq = new PriorityQueue<int, float>();
        for (int q = 0; q < nq; q++)
        {
            dist.Clear();
            pq.Clear();
            var qv = prepared.AsSpan(q * d, d);
            foreach (var (slot, _) in entries[q])
            {
                _index.GetVector(slot, v);
                float w = Delta(_index.Metric, qv, v);
                if (!dist.TryGetValue(slot, out var old) || w < old)
                {
                    dist[slot] = w;
                    pq.Enqueue(slot, w);
                }
            }
            var settled = new HashSet<int>();
            var hits = new List<SearchHit>();
            while (pq.TryDequeue(out int node, out float du) && hits.Count < k)
            {
                if (!settled.Add(node)) continue;
                hits.Add(new SearchHit(_index.Items.Id(node), _index.Metric == Metric.L2 ? du : 1 - du, _index.Items.Text(node)));
                foreach (var (next, w) in _edges[node])
                {
                    float nd = du + w;
                    if (settled.Contains(next)) continue;
                    if (!dist.TryGetValue(next, out var old) || nd < old)
                    {
                        dist[next] = nd;
                        pq.Enqueue(next, nd);
                    }
                }
            }
            result[q] = hits.ToArray();
        }
        return result;
    }
}
