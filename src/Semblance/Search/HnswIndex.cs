// Hierarchical Navigable Small World graph index (Malkov & Yashunin, 2016/2018, arXiv:1603.09320).
//   level(i) = ⌊−ln(U_i)·mL⌋, mL = 1/ln(M), U_i uniform in (0, 1] drawn from (seed, slot) — Alg. 1;
//   greedy descent with ef = 1 on upper layers, beam search with ef on the rest — Alg. 2;
//   neighbours chosen by the heuristic of Alg. 4 (keep e only if it is closer to q than to every neighbour already
//   kept), M per node on layers ≥ 1 and 2M on layer 0; overflowing lists are shrunk with the same heuristic.
// Distances: 1 − q·x for ip/cosine, ‖q − x‖² for l2. Removed items stay in the graph for routing and are skipped in
// results. A single-threaded build is deterministic for a seed; with more threads insertion order races, so graphs
// (and results) may differ between runs.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text.Json.Nodes;
using Semblance.Numerics;

namespace Semblance.Search;

public sealed record HnswOptions
{
    /// <summary>Links per node on upper layers (2M on layer 0).</summary>
    public int M { get; init; } = 16;

    /// <summary>Candidate list size while inserting.</summary>
    public int EfConstruction { get; init; } = 200;

    /// <summary>Default candidate list size at query time (raised to k when smaller).</summary>
    public int EfSearch { get; init; } = 64;

    public int Seed { get; init; } = 42;
}

public sealed unsafe class HnswIndex : VectorIndex
{
    public const string KindName = "hnsw";
    private const int StripeCount = 4096;

    /// <summary>
    /// How many neighbours ahead of the one being measured a search fetches whole vectors. Chosen by CPU time per query
    /// on the 100k × 384 set (ef 28, loaded host): 4 and 16–32 cost the same, 1–2 more, none (0) far more.
    /// </summary>
    private const int PrefetchAhead = 4;

    /// <summary>Neighbours whose distances a layer search takes in one kernel call (<see cref="Distance4"/>).</summary>
    private const int Group = 4;

    private readonly NativeBuffer _vectors;
    private readonly int _stride;
    private readonly int _m, _m0;
    private readonly double _ml;
    // Layer-0 lists, Stride0 ints per node ([count, ids...]), in native memory (huge pages where large, as the vectors):
    // a search reads one list per expanded node, scattered over the whole table.
    private readonly NativeBuffer _links0 = new();
    // Upper-layer lists, one pinned array per node above layer 0 (null on layer 0), so List can hand out pointers.
    private int[]?[] _upper = [];
    private byte[] _levels = [];
    private int _entry = -1;
    private int _maxLevel = -1;
    private int _nodes;
    private readonly object[] _stripes = Enumerable.Range(0, StripeCount).Select(_ => new object()).ToArray();
    private readonly object _entryLock = new();
    private readonly ThreadLocal<Scratch> _scratch;

    public HnswIndex(int dimension, Metric metric, HnswOptions? options = null) : this(dimension, metric, options ?? new HnswOptions(), null, new NativeBuffer()) { }

    private HnswIndex(int dimension, Metric metric, HnswOptions options, ItemStore? items, NativeBuffer vectors) : base(dimension, metric, items)
    {
        if (options.M < 2) throw new SemblanceException($"HNSW M must be at least 2, got {options.M}");
        if (options.EfConstruction < 1) throw new SemblanceException($"HNSW efConstruction must be at least 1, got {options.EfConstruction}");
        Options = options;
        _m = options.M;
        _m0 = 2 * options.M;
        _ml = 1 / Math.Log(options.M);
        _stride = (dimension + 15) & ~15;
        _vectors = vectors;
        _scratch = new ThreadLocal<Scratch>(() => new Scratch(0));
    }

    public HnswOptions Options { get; }

    public override string Kind => KindName;

    private int Stride0 => _m0 + 1;

    private sealed class Scratch(int n)
    {
        // 16-bit tags halve the visited table, so more of it stays in cache on large indexes.
        public ushort[] Visited = new ushort[n];
        public ushort Tag;
        public readonly Heap Candidates = new();
        public readonly Heap Results = new();
        public int[] Links = new int[64];

        public void NewVisit(int n)
        {
            if (Visited.Length < n) { Visited = new ushort[Math.Max(n, Visited.Length + Visited.Length / 4)]; Tag = 0; }
            if (++Tag == ushort.MaxValue) { Array.Clear(Visited); Tag = 1; }
        }
    }

    /// <summary>Binary min-heap on (key, id); the hot paths index its arrays without bounds checks (indexes stay below Count).</summary>
    private sealed class Heap
    {
        private float[] _k = new float[64];
        private int[] _v = new int[64];
        public int Count;
        public void Clear() => Count = 0;
        public float TopKey => MemoryMarshal.GetArrayDataReference(_k);
        public int TopId => MemoryMarshal.GetArrayDataReference(_v);

        public void Push(float key, int id)
        {
            if (Count == _k.Length) { Array.Resize(ref _k, Count * 2); Array.Resize(ref _v, Count * 2); }
            ref float k = ref MemoryMarshal.GetArrayDataReference(_k);
            ref int v = ref MemoryMarshal.GetArrayDataReference(_v);
            int i = Count++;
            while (i > 0)
            {
                int p = (i - 1) >> 1;
                float pk = Unsafe.Add(ref k, p);
                if (pk <= key) break;
                Unsafe.Add(ref k, i) = pk;
                Unsafe.Add(ref v, i) = Unsafe.Add(ref v, p);
                i = p;
            }
            Unsafe.Add(ref k, i) = key;
            Unsafe.Add(ref v, i) = id;
        }

        public void Pop()
        {
            int n = --Count;
            ref float k = ref MemoryMarshal.GetArrayDataReference(_k);
            ref int v = ref MemoryMarshal.GetArrayDataReference(_v);
            SiftDown(ref k, ref v, n, Unsafe.Add(ref k, n), Unsafe.Add(ref v, n));
        }

        /// <summary>Pop then Push in one sift: the top leaves, (key, id) enters. Only for a key above the top's.</summary>
        public void ReplaceTop(float key, int id) =>
            SiftDown(ref MemoryMarshal.GetArrayDataReference(_k), ref MemoryMarshal.GetArrayDataReference(_v), Count, key, id);

        /// <summary>Places (key, id) at the root's hole and sinks it among the first n entries.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void SiftDown(ref float k, ref int v, int n, float key, int id)
        {
            int i = 0;
            while (true)
            {
                int c = 2 * i + 1;
                if (c >= n) break;
                float ck = Unsafe.Add(ref k, c);
                if (c + 1 < n && Unsafe.Add(ref k, c + 1) < ck) ck = Unsafe.Add(ref k, ++c);
                if (ck >= key) break;
                Unsafe.Add(ref k, i) = ck;
                Unsafe.Add(ref v, i) = Unsafe.Add(ref v, c);
                i = c;
            }
            Unsafe.Add(ref k, i) = key;
            Unsafe.Add(ref v, i) = id;
        }
    }

    private float* Vec(int slot) => (float*)_vectors.Pointer + (long)slot * _stride;

    /// <summary>The distance kernels' tier, taken on the thread that starts a build or search (see DistanceKernels).</summary>
    private DistanceKernels _kernels = DistanceKernels.ForCurrentThread;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float Distance(float* a, float* b)
    {
        if (Metric == Metric.L2) return _kernels.SquaredL2(a, b, _stride);
        return 1 - _kernels.Dot(a, b, _stride);
    }

    /// <summary>Distances from q to the four slots at ids[0..4) into o[0..4), each equal to <see cref="Distance"/>'s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Distance4(float* q, int* ids, float* o)
    {
        float* a = Vec(ids[0]), b = Vec(ids[1]), c = Vec(ids[2]), d = Vec(ids[3]);
        if (Metric == Metric.L2)
        {
            _kernels.SquaredL2x4(q, a, b, c, d, _stride, o);
            return;
        }
        _kernels.Dot4(q, a, b, c, d, _stride, o);
        o[0] = 1 - o[0];
        o[1] = 1 - o[1];
        o[2] = 1 - o[2];
        o[3] = 1 - o[3];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(void* p)
    {
        if (Sse.IsSupported) Sse.Prefetch0(p);
    }

    private int LevelOf(int slot)
    {
        ulong z = (ulong)Options.Seed * 0x9E3779B97F4A7C15UL + (ulong)slot + 0x632BE59BD9B4E019UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        double u = ((z >> 11) + 1) * (1.0 / (1UL << 53));
        return Math.Min(255, (int)Math.Floor(-Math.Log(u) * _ml));
    }

    private int* Links0 => (int*)_links0.Pointer;

    /// <summary>Neighbour list of a node at a level: [count, ids...].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int* List(int node, int level) =>
        level == 0 ? Links0 + (long)node * Stride0 : (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_upper[node]!)) + (level - 1) * (_m + 1);

    /// <summary>Upper-layer lists of a node reaching <paramref name="level"/>, pinned (see List).</summary>
    private int[] NewUpper(int level) => GC.AllocateArray<int>(level * (_m + 1), pinned: true);

    private protected override void AddCore(float[] vectors, int n)
    {
        int start = Items.Slots, d = Dimension;
        _kernels = DistanceKernels.ForCurrentThread;
        _vectors.Resize((long)(start + n) * _stride * 4);
        for (int i = 0; i < n; i++)
            vectors.AsSpan(i * d, d).CopyTo(new Span<float>(Vec(start + i), d));
        _links0.Resize((long)(start + n) * Stride0 * 4);
        if (_levels.Length < start + n)
        {
            int cap = Math.Max(start + n, _levels.Length + _levels.Length / 16);
            Array.Resize(ref _upper, cap);
            Array.Resize(ref _levels, cap);
        }
        for (int i = 0; i < n; i++)
        {
            int slot = start + i;
            int level = LevelOf(slot);
            _levels[slot] = (byte)level;
            Links0[(long)slot * Stride0] = 0;
            _upper[slot] = level > 0 ? NewUpper(level) : null;
        }
        _nodes = start + n;
        int first = 0;
        if (_entry < 0)
        {
            _entry = start;
            _maxLevel = _levels[start];
            first = 1;
        }
        int threads = Math.Max(1, Threads);
        if (threads == 1 || n - first < 1000)
            for (int i = first; i < n; i++) Insert(start + i, false);
        else
        {
            // Seed the graph single-threaded so early parallel inserts do not all race for the same few nodes.
            int seq = Math.Min(n, first + 1000);
            for (int i = first; i < seq; i++) Insert(start + i, false);
            // Workers take the next item from one shared counter, so insertion stays close to input order (as in
            // hnswlib) instead of each worker starting in its own far-away range of the input.
            int next = seq - 1;
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < n) Insert(start + i, true);
            });
        }
    }

    private void Insert(int q, bool concurrent)
    {
        var sc = _scratch.Value!;
        float* qv = Vec(q);
        int level = _levels[q];
        int ep, top;
        lock (_entryLock) { ep = _entry; top = _maxLevel; }
        float epd = Distance(qv, Vec(ep));
        for (int l = top; l > level; l--) (ep, epd) = Greedy(qv, ep, epd, l, sc);
        var selected = new int[_m0];
        for (int l = Math.Min(level, top); l >= 0; l--)
        {
            SearchLayer(qv, ep, epd, Options.EfConstruction, l, sc, excluded: null);
            var cand = Drain(sc.Results);
            int cnt = SelectHeuristic(cand, _m, selected);
            int* list = List(q, l);
            lock (Stripe(q))
            {
                for (int i = 0; i < cnt; i++) list[1 + i] = selected[i];
                list[0] = cnt;
            }
            for (int i = 0; i < cnt; i++) Link(selected[i], q, l);
            ep = cand[0].Id;
            epd = cand[0].Dist;
        }
        if (level > top)
            lock (_entryLock)
                if (level > _maxLevel) { _maxLevel = level; _entry = q; }
    }

    private object Stripe(int node) => _stripes[node & (StripeCount - 1)];

    /// <summary>Adds q to e's list at level l, shrinking it with the heuristic when full.</summary>
    private void Link(int e, int q, int l)
    {
        int cap = l == 0 ? _m0 : _m;
        lock (Stripe(e))
        {
            int* list = List(e, l);
            int c = list[0];
            for (int i = 0; i < c; i++) if (list[1 + i] == q) return;
            if (c < cap)
            {
                list[1 + c] = q;
                list[0] = c + 1;
                return;
            }
            float* ev = Vec(e);
            var cand = new (float Dist, int Id)[c + 1];
            for (int i = 0; i < c; i++) cand[i] = (Distance(ev, Vec(list[1 + i])), list[1 + i]);
            cand[c] = (Distance(ev, Vec(q)), q);
            Array.Sort(cand, static (a, b) => a.Dist != b.Dist ? a.Dist.CompareTo(b.Dist) : a.Id.CompareTo(b.Id));
            var kept = new int[cap];
            int n = SelectHeuristic(cand, cap, kept);
            for (int i = 0; i < n; i++) list[1 + i] = kept[i];
            list[0] = n;
        }
    }

    /// <summary>Alg. 4: candidates sorted by distance to the base; keep e if dist(e, base) &lt; dist(e, r) for all kept r.</summary>
    private int SelectHeuristic((float Dist, int Id)[] sorted, int m, int[] output)
    {
        int n = 0;
        foreach (var (dist, id) in sorted)
        {
            if (n >= m) break;
            float* ev = Vec(id);
            bool good = true;
            for (int i = 0; i < n; i++)
                if (Distance(ev, Vec(output[i])) < dist) { good = false; break; }
            if (good) output[n++] = id;
        }
        return n;
    }

    private static (float Dist, int Id)[] Drain(Heap results)
    {
        // Results is a max-heap (keys are negated distances); popping yields farthest first.
        var r = new (float Dist, int Id)[results.Count];
        for (int i = r.Length - 1; i >= 0; i--)
        {
            r[i] = (-results.TopKey, results.TopId);
            results.Pop();
        }
        return r;
    }

    private int CopyLinks(int node, int level, Scratch sc)
    {
        int* list = List(node, level);
        int c = Math.Min(list[0], level == 0 ? _m0 : _m);
        if (sc.Links.Length < c) sc.Links = new int[c];
        new ReadOnlySpan<int>(list + 1, c).CopyTo(sc.Links);
        return c;
    }

    private (int, float) Greedy(float* q, int ep, float epd, int level, Scratch sc)
    {
        bool changed = true;
        while (changed)
        {
            changed = false;
            int c = CopyLinks(ep, level, sc);
            for (int i = 0; i < c && i < PrefetchAhead; i++) DistanceKernels.Prefetch(Vec(sc.Links[i]), _stride);
            for (int i = 0; i < c; i++)
            {
                if (i + PrefetchAhead < c) DistanceKernels.Prefetch(Vec(sc.Links[i + PrefetchAhead]), _stride);
                int e = sc.Links[i];
                float d = Distance(q, Vec(e));
                if (d < epd) { epd = d; ep = e; changed = true; }
            }
        }
        return (ep, epd);
    }

    /// <summary>
    /// Alg. 2 beam search; leaves the ef best in sc.Results as a max-heap of negated distances. Each expanded node's
    /// list is first reduced to its unvisited neighbours (marking them visited); their distances are then taken four at
    /// a time (<see cref="Distance4"/>, one pass over the query for four vectors) while the whole vectors of the next
    /// group but one are fetched, so several vectors' cache misses overlap instead of each distance waiting on memory
    /// in turn. Distances are handled in list order and each is bitwise the single-vector kernel's, so heap pushes,
    /// bound updates and results are the plain algorithm's. The search stops when the nearest unexpanded candidate is
    /// farther than the ef-th result, as in hnswlib.
    /// </summary>
    private void SearchLayer(float* q, int ep, float epd, int ef, int level, Scratch sc, bool[]? excluded)
    {
        sc.NewVisit(_nodes);
        var visited = sc.Visited;
        ushort tag = sc.Tag;
        var cand = sc.Candidates;
        var res = sc.Results;
        cand.Clear();
        res.Clear();
        var deleted = excluded;
        visited[ep] = tag;
        cand.Push(epd, ep);
        if (deleted is null || !deleted[ep]) res.Push(-epd, ep);
        float bound = res.Count > 0 ? -res.TopKey : float.PositiveInfinity;
        int cap = level == 0 ? _m0 : _m;
        int stride = _stride;
        // Room to pad the last group of four with copies of the last id (their distances are taken and ignored).
        int* fresh = stackalloc int[cap + 3];
        float* dist = stackalloc float[4];
        int* links0 = Links0;
        fixed (ushort* vis = visited)
        {
            while (cand.Count > 0)
            {
                float cd = cand.TopKey;
                int c = cand.TopId;
                if (cd > bound && res.Count >= ef) break;
                cand.Pop();
                int* list = List(c, level);
                int u = 0;
                int cnt = Math.Min(list[0], cap);
                for (int i = 0; i < cnt; i++) Prefetch(vis + list[1 + i]);
                for (int i = 0; i < cnt; i++)
                {
                    int e = list[1 + i];
                    if (vis[e] == tag) continue;
                    vis[e] = tag;
                    fresh[u++] = e;
                }
                if (u == 0) continue;
                for (int i = u; (i & 3) != 0; i++) fresh[i] = fresh[u - 1];
                for (int i = 0; i < u && i < 2 * Group; i++) DistanceKernels.Prefetch(Vec(fresh[i]), stride);
                for (int g = 0; g < u; g += Group)
                {
                    for (int i = g + 2 * Group; i < u && i < g + 3 * Group; i++) DistanceKernels.Prefetch(Vec(fresh[i]), stride);
                    Distance4(q, fresh + g, dist);
                    int m = Math.Min(Group, u - g);
                    for (int t = 0; t < m; t++)
                    {
                        float d = dist[t];
                        if (!(res.Count < ef || d < bound)) continue;
                        int e = fresh[g + t];
                        // A candidate is likely to be expanded later: start fetching its neighbour list now.
                        if (level == 0) Prefetch(links0 + (long)e * Stride0);
                        cand.Push(d, e);
                        if (deleted is null || !deleted[e])
                        {
                            if (res.Count < ef) res.Push(-d, e);
                            else res.ReplaceTop(-d, e);
                            bound = -res.TopKey;
                        }
                    }
                }
            }
        }
    }

    private protected override (int Slot, float Score)[][] SearchCore(float[] queries, int nq, int k, SearchOptions options)
    {
        int ef = Math.Max(k, options.EfSearch > 0 ? options.EfSearch : Options.EfSearch);
        _kernels = DistanceKernels.ForCurrentThread;
        var excluded = ExcludedSlots(options);
        var result = new (int Slot, float Score)[nq][];
        void One(int i)
        {
            var sc = _scratch.Value!;
            // The query, zero-padded to the stride, on a 64-byte boundary of this frame (no allocation per query).
            float* raw = stackalloc float[_stride + 16];
            float* qv = (float*)(((nint)raw + 63) & ~(nint)63);
            new Span<float>(qv, _stride).Clear();
            queries.AsSpan(i * Dimension, Dimension).CopyTo(new Span<float>(qv, Dimension));
            int ep = _entry;
            float epd = Distance(qv, Vec(ep));
            for (int l = _maxLevel; l > 0; l--) (ep, epd) = Greedy(qv, ep, epd, l, sc);
            SearchLayer(qv, ep, epd, ef, 0, sc, excluded);
            var res = sc.Results;
            // Results is a max-heap of negated distances: discard the farthest beyond k, then fill from the back.
            while (res.Count > k) res.Pop();
            float qq = Metric == Metric.L2 ? SquaredNorm(new ReadOnlySpan<float>(qv, Dimension)) : 0;
            var r = new (int Slot, float Score)[res.Count];
            for (int j = r.Length - 1; j >= 0; j--)
            {
                float dist = -res.TopKey;
                r[j] = (res.TopId, Metric == Metric.L2 ? qq - dist : 1 - dist);
                res.Pop();
            }
            result[i] = r;
        }
        int threads = Math.Max(1, Threads);
        if (threads == 1 || nq < 4) for (int i = 0; i < nq; i++) One(i);
        else Parallel.For(0, nq, new ParallelOptions { MaxDegreeOfParallelism = threads }, One);
        return result;
    }

    internal override void GetVector(int slot, Span<float> destination) => new ReadOnlySpan<float>(Vec(slot), Dimension).CopyTo(destination);

    /// <summary>Layer-0 neighbours of a slot (for graph algorithms built on the index).</summary>
    internal ReadOnlySpan<int> Neighbours(int slot)
    {
        int* list = List(slot, 0);
        return new ReadOnlySpan<int>(list + 1, list[0]);
    }

    private protected override void WriteData(string directory, long generation, Dictionary<string, IndexFileEntry> files)
    {
        files["vectors"] = IndexDataFile.Write(directory, IndexDirectory.FileName("vectors", generation), _vectors.WriteTo);
        int n = Items.Slots;
        files["graph"] = IndexDataFile.Write(directory, IndexDirectory.FileName("graph", generation), s =>
        {
            var w = new BinaryWriter(s);
            w.Write(n);
            w.Write(_entry);
            w.Write(_maxLevel);
            w.Write(_levels, 0, n);
            w.Flush();
            _links0.WriteTo(s);
            for (int i = 0; i < n; i++) if (_upper[i] is { } u) s.Write(MemoryMarshal.AsBytes(u.AsSpan()));
        });
    }

    private protected override JsonObject Parameters() => new()
    {
        ["m"] = _m,
        ["ef_construction"] = Options.EfConstruction,
        ["ef_search"] = Options.EfSearch,
        ["seed"] = Options.Seed,
        ["vector_stride"] = _stride,
    };

    internal static HnswIndex Open(string directory, IndexManifest m, Metric metric, ItemStore items, bool verify)
    {
        var mpath = Path.Combine(directory, IndexManifest.FileName);
        int Param(string name)
        {
            try { return m.Parameters[name]?.GetValue<int>() ?? throw new InputFormatException($"{mpath}: parameters.{name} is missing"); }
            catch (Exception e) when (e is InvalidOperationException or FormatException) { throw new InputFormatException($"{mpath}: parameters.{name} is not an integer"); }
        }
        var options = new HnswOptions { M = Param("m"), EfConstruction = Param("ef_construction"), EfSearch = Param("ef_search"), Seed = Param("seed") };
        if (options.M is < 2 or > 4096) throw new InputFormatException($"{mpath}: parameters.m {options.M} is invalid");
        var ve = RequireFile(m, directory, "vectors");
        var ge = RequireFile(m, directory, "graph");
        var mapped = IndexDataFile.Map(directory, ve, verify);
        var index = new HnswIndex(m.Dimension, metric, options, items, new NativeBuffer(mapped, IndexDataFile.HeaderBytes, ve.Bytes));
        try
        {
            int n = items.Slots;
            var gpath = Path.Combine(directory, ge.Name);
            if (ve.Bytes != (long)n * index._stride * 4) throw new InputFormatException($"{Path.Combine(directory, ve.Name)}: holds {ve.Bytes} bytes, expected {(long)n * index._stride * 4}");
            using var g = IndexDataFile.Map(directory, ge, verify);
            var p = new ReadOnlySpan<byte>(g.Pointer + IndexDataFile.HeaderBytes, (int)Math.Min(ge.Bytes, int.MaxValue));
            if (p.Length < 12 + n + (long)n * index.Stride0 * 4) throw new InputFormatException($"{gpath}: graph file is truncated");
            if (MemoryMarshal.Read<int>(p) != n) throw new InputFormatException($"{gpath}: graph has {MemoryMarshal.Read<int>(p)} nodes, expected {n}");
            index._entry = MemoryMarshal.Read<int>(p[4..]);
            index._maxLevel = MemoryMarshal.Read<int>(p[8..]);
            index._levels = p.Slice(12, n).ToArray();
            int pos = 12 + n;
            index._links0.Resize((long)n * index.Stride0 * 4);
            p.Slice(pos, n * index.Stride0 * 4).CopyTo(new Span<byte>(index._links0.Pointer, n * index.Stride0 * 4));
            pos += n * index.Stride0 * 4;
            index._upper = new int[]?[n];
            index._nodes = n;
            for (int i = 0; i < n; i++)
            {
                int lv = index._levels[i];
                if (lv == 0) continue;
                int len = lv * (index._m + 1) * 4;
                if (pos + len > p.Length) throw new InputFormatException($"{gpath}: graph file is truncated");
                var upper = index.NewUpper(lv);
                MemoryMarshal.Cast<byte, int>(p.Slice(pos, len)).CopyTo(upper);
                index._upper[i] = upper;
                pos += len;
            }
            if (pos != p.Length) throw new InputFormatException($"{gpath}: graph file has {p.Length - pos} trailing bytes");
            if (n > 0 && (index._entry < 0 || index._entry >= n || index._maxLevel != index._levels[index._entry]))
                throw new InputFormatException($"{gpath}: entry point {index._entry} is invalid");
            if (n == 0 && (index._entry != -1 || index._maxLevel != -1))
                throw new InputFormatException($"{gpath}: an empty graph must have entry point -1, got {index._entry}");
            index.ValidateGraph(gpath);
            // A search reads vectors scattered over the whole file: owned huge-page memory spares it most TLB misses.
            index._vectors.CopyToOwnedMemory();
            return index;
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Every neighbour list on every layer of a loaded graph: count within the layer's maximum (2M on layer 0, M
    /// above), ids in range, and each neighbour present on that layer (its level at least the layer's). Search reads
    /// these lists unchecked, so a damaged graph must fail here, not as an out-of-bounds read.
    /// </summary>
    private void ValidateGraph(string gpath)
    {
        int n = _nodes;
        for (int node = 0; node < n; node++)
        {
            for (int level = 0; level <= _levels[node]; level++)
            {
                int* list = List(node, level);
                int count = list[0], max = level == 0 ? _m0 : _m;
                if (count < 0 || count > max)
                    throw new InputFormatException($"{gpath}: node {node} has {count} neighbours on layer {level}; the layer holds at most {max} (the file is damaged)");
                for (int i = 0; i < count; i++)
                {
                    int id = list[1 + i];
                    if ((uint)id >= (uint)n)
                        throw new InputFormatException($"{gpath}: node {node}, layer {level}: neighbour id {id} is out of range (the graph has {n} nodes)");
                    if (_levels[id] < level)
                        throw new InputFormatException($"{gpath}: node {node}, layer {level}: neighbour {id} does not reach that layer (the file is damaged)");
                }
            }
        }
    }

    public override void Dispose()
    {
        _vectors.Dispose();
        _links0.Dispose();
        _scratch.Dispose();
    }
}
