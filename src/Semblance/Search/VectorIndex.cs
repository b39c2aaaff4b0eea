// The index interface shared by every kind (FAISS-style Add / batched Search / Remove / Save / Load) and the
// bookkeeping they share: ids, payloads, metric handling, input validation and the directory commit protocol.
using System.Text.Json.Nodes;

namespace Semblance.Search;

/// <summary>
/// Similarity measure. Scores are "higher is better" for <see cref="InnerProduct"/> and <see cref="Cosine"/>
/// (cosine vectors are L2-normalised on add and on query, then compared by inner product). For <see cref="L2"/>
/// the score is the squared Euclidean distance, so smaller is better and hits come smallest first.
/// </summary>
public enum Metric
{
    InnerProduct,
    Cosine,
    L2,
}

/// <summary>One search result: the item's id, its score under the index metric, and its payload (null if none).</summary>
public sealed record SearchHit(string Id, float Score, string? Payload);

/// <summary>Per-call search knobs; kinds ignore what does not apply to them.</summary>
public sealed record SearchOptions
{
    /// <summary>HNSW candidate-list size (at least k); 0 = the index default.</summary>
    public int EfSearch { get; init; }
}

public interface IVectorIndex : IDisposable
{
    int Dimension { get; }
    Metric Metric { get; }
    string Kind { get; }
    long Count { get; }
    void Add(ReadOnlySpan<float> vectors, IReadOnlyList<string> ids, IReadOnlyList<string?>? payloads = null);
    SearchHit[][] Search(ReadOnlySpan<float> queries, int k, SearchOptions? options = null);
    int Remove(IEnumerable<string> ids);
    void Save(string directory);
}

public abstract class VectorIndex : IVectorIndex
{
    internal readonly ItemStore Items;

    private protected VectorIndex(int dimension, Metric metric, ItemStore? items = null)
    {
        if (dimension is < 1 or > MaxDimension) throw new SemblanceException($"index dimension must be between 1 and {MaxDimension}, got {dimension}");
        Dimension = dimension;
        Metric = metric;
        Items = items ?? new ItemStore();
    }

    /// <summary>Largest vector dimension an index accepts (a sanity bound: no embedding model comes near it).</summary>
    public const int MaxDimension = 1 << 20;

    /// <summary>
    /// Largest squared L2 norm a stored or query vector may have: float.MaxValue / 4, so that every inner product
    /// (|q·x| ≤ |q||x|) and every squared distance (|q − x|² ≤ (|q| + |x|)²) stays a finite float.
    /// </summary>
    public const float MaxSquaredNorm = float.MaxValue / 4;

    public int Dimension { get; }
    public Metric Metric { get; }
    public abstract string Kind { get; }

    /// <summary>Live (not removed) items. When k exceeds it, Search returns min(k, Count) hits rather than padding.</summary>
    public long Count => Items.Live;

    /// <summary>Items ever added, including removed ones (slots are never reused).</summary>
    public int SlotCount => Items.Slots;

    /// <summary>Model directory used to encode the items (kept in the manifest so search can default to it).</summary>
    public string? Model { get; set; }

    /// <summary>Whitening file applied after the model (kept in the manifest so text queries get the same transform).</summary>
    public string? Whitening { get; set; }

    /// <summary>Worker threads for search and build.</summary>
    public int Threads { get; set; } = Environment.ProcessorCount;

    public static string MetricName(Metric m) => m switch { Metric.InnerProduct => "ip", Metric.Cosine => "cosine", _ => "l2" };

    public static Metric ParseMetric(string s) => s switch
    {
        "ip" => Metric.InnerProduct,
        "cosine" => Metric.Cosine,
        "l2" => Metric.L2,
        _ => throw new SemblanceException($"metric '{s}' is not one of ip|cosine|l2"),
    };

    /// <summary>
    /// Adds <paramref name="ids"/>.Count vectors (row-major, Dimension each). Ids must be new and unique; the payload
    /// (any text, e.g. the source sentence or a JSON object) is returned with hits. Nothing changes if validation fails.
    /// </summary>
    public void Add(ReadOnlySpan<float> vectors, IReadOnlyList<string> ids, IReadOnlyList<string?>? payloads = null)
    {
        int n = ids.Count;
        if (vectors.Length != (long)n * Dimension)
        {
            if (n > 0 && vectors.Length % n == 0)
                throw new InputFormatException($"vectors have dimension {vectors.Length / n} but the index has dimension {Dimension}");
            throw new InputFormatException($"got {vectors.Length} values for {n} ids; expected {n} x {Dimension}");
        }
        if (payloads is not null && payloads.Count != n) throw new InputFormatException($"got {payloads.Count} payloads for {n} ids");
        if ((long)Items.Slots + n > int.MaxValue - 16) throw new SemblanceException($"the index would exceed {int.MaxValue - 16} items");
        Items.Validate(ids);
        var prepared = Prepare(vectors, n, "vector");
        for (int i = 0; i < n; i++) CheckStorable(prepared.AsSpan(i * Dimension, Dimension), i);
        AddCore(prepared, n);
        Items.Add(ids, payloads);
    }

    /// <summary>
    /// k nearest items for each query (row-major, Dimension each), best first. Returns min(k, Count) hits per query.
    /// </summary>
    public SearchHit[][] Search(ReadOnlySpan<float> queries, int k, SearchOptions? options = null)
    {
        if (k < 1) throw new SemblanceException($"k must be at least 1, got {k}");
        if (queries.Length % Dimension != 0)
            throw new InputFormatException($"queries have {queries.Length} values, not a multiple of the index dimension {Dimension}");
        if (Count == 0) throw new SemblanceException("the index is empty; add items before searching");
        int nq = queries.Length / Dimension;
        var prepared = Prepare(queries, nq, "query");
        int kk = (int)Math.Min(k, Count);
        var raw = SearchCore(prepared, nq, kk, options ?? new SearchOptions());
        var result = new SearchHit[nq][];
        for (int q = 0; q < nq; q++)
        {
            float qq = Metric == Metric.L2 ? SquaredNorm(prepared.AsSpan(q * Dimension, Dimension)) : 0;
            result[q] = raw[q].Select(h => new SearchHit(Items.Id(h.Slot), PublicScore(h.Score, qq), Items.Payload(h.Slot))).ToArray();
            foreach (var hit in result[q])
                if (!float.IsFinite(hit.Score))
                    throw new InputFormatException($"query {q}: the score against item {SemblanceException.Excerpt(hit.Id)} is {hit.Score.ToString(System.Globalization.CultureInfo.InvariantCulture)}; the stored vectors are damaged or too large for metric {MetricName(Metric)}");
        }
        return result;
    }

    /// <summary>Marks items as removed (they are skipped by searches); returns how many of the ids were present.</summary>
    public int Remove(IEnumerable<string> ids)
    {
        int removed = 0;
        foreach (var id in ids) if (Items.Remove(id)) removed++;
        return removed;
    }

    /// <summary>Whether an item with this id is present (not removed).</summary>
    public bool Contains(string id) => Items.Contains(id);

    /// <summary>
    /// Writes a new generation of the index into <paramref name="directory"/> and commits it by atomically replacing
    /// the manifest; a crash at any point leaves the previous generation intact. Takes the writer lock unless this
    /// process already holds it.
    /// </summary>
    public void Save(string directory)
    {
        IndexDirectory.Claim(directory, replace: true);
        using var own = IndexLock.IsHeldHere(directory) ? null : IndexLock.Acquire(directory);
        IndexManifest? old = File.Exists(Path.Combine(directory, IndexManifest.FileName)) ? IndexDirectory.ReadManifest(directory) : null;
        IndexDirectory.CollectGarbage(directory, old);
        long gen = (old?.Generation ?? 0) + 1;
        var files = new Dictionary<string, IndexFileEntry>
        {
            ["items"] = IndexDataFile.Write(directory, IndexDirectory.FileName("items", gen), Items.Write),
        };
        WriteData(directory, gen, files);
        var manifest = new IndexManifest
        {
            Generation = gen,
            Kind = Kind,
            Metric = MetricName(Metric),
            Dimension = Dimension,
            Count = Count,
            Slots = Items.Slots,
            Model = Model,
            Whitening = Whitening,
            Parameters = Parameters(),
            Files = files,
        };
        IndexDirectory.Commit(directory, manifest);
    }

    /// <summary>
    /// Checks (and, unless <paramref name="checkOnly"/>, creates and marks) a directory for a new index: it must be new,
    /// empty, or (with <paramref name="replace"/>) an existing index; a directory of someone else's files is refused.
    /// </summary>
    public static void ClaimDirectory(string directory, bool replace, bool checkOnly = false) =>
        IndexDirectory.Claim(directory, replace, create: !checkOnly);

    /// <summary>Reads the manifest only (kind, metric, counts, files) without loading data.</summary>
    public static IndexManifest ReadInfo(string directory) => IndexDirectory.ReadManifest(directory);

    /// <summary>
    /// Opens the committed index in <paramref name="directory"/>: checks every file's checksum (unless
    /// <paramref name="verify"/> is false) and memory-maps the vector data.
    /// </summary>
    public static VectorIndex Load(string directory, bool verify = true)
    {
        var m = IndexDirectory.ReadManifest(directory);
        var mpath = Path.Combine(directory, IndexManifest.FileName);
        var metric = m.Metric switch
        {
            "ip" => Metric.InnerProduct,
            "cosine" => Metric.Cosine,
            "l2" => Metric.L2,
            _ => throw new InputFormatException($"{mpath}: metric '{m.Metric}' is not one of ip|cosine|l2"),
        };
        if (m.Dimension < 1) throw new InputFormatException($"{mpath}: dimension {m.Dimension} is invalid");
        ItemStore items;
        if (!m.Files.TryGetValue("items", out var itemsEntry)) throw new InputFormatException($"{mpath}: manifest names no items file");
        using (var f = IndexDataFile.Map(directory, itemsEntry, verify))
            items = ItemStore.Read(f, Path.Combine(directory, itemsEntry.Name));
        if (items.Slots != m.Slots || items.Live != m.Count)
            throw new InputFormatException($"{mpath}: item counts ({items.Slots} slots, {items.Live} live) do not match the manifest ({m.Slots}, {m.Count})");
        VectorIndex index = m.Kind switch
        {
            FlatIndex.KindF32 or FlatIndex.KindF16 or FlatIndex.KindInt8 => FlatIndex.Open(directory, m, metric, items, verify),
            HnswIndex.KindName => HnswIndex.Open(directory, m, metric, items, verify),
            _ => throw new InputFormatException($"{mpath}: index kind '{m.Kind}' is not one of flat|flat-int8|flat-f16|hnsw"),
        };
        index.Model = m.Model;
        index.Whitening = m.Whitening;
        return index;
    }

    internal static IndexFileEntry RequireFile(IndexManifest m, string directory, string role) =>
        m.Files.TryGetValue(role, out var e) ? e : throw new InputFormatException($"{Path.Combine(directory, IndexManifest.FileName)}: manifest names no '{role}' file");

    /// <summary>Stores <paramref name="n"/> validated (and, for cosine, normalised) vectors in slots Items.Slots...</summary>
    private protected abstract void AddCore(float[] vectors, int n);

    /// <summary>Per query, up to k (slot, internal score) pairs, best first. Internal scores are larger-is-better.</summary>
    private protected abstract (int Slot, float Score)[][] SearchCore(float[] queries, int nq, int k, SearchOptions options);

    private protected abstract void WriteData(string directory, long generation, Dictionary<string, IndexFileEntry> files);

    private protected abstract JsonObject Parameters();

    /// <summary>The stored vector of a slot (decoded for quantised kinds; normalised for cosine).</summary>
    internal abstract void GetVector(int slot, Span<float> destination);

    /// <summary>Per query, up to k (slot, internal score) best first; used by graph algorithms on top of the index.</summary>
    internal (int Slot, float Score)[][] SearchSlots(float[] preparedQueries, int nq, int k, SearchOptions options) =>
        SearchCore(preparedQueries, nq, (int)Math.Min(k, Count), options);

    internal float[] PrepareQueries(ReadOnlySpan<float> queries, int nq) => Prepare(queries, nq, "query");

    /// <summary>For L2, kinds rank by 2·q·x − |x|² (larger is better); the public score is the squared distance.</summary>
    private float PublicScore(float s, float qq) => Metric == Metric.L2 ? MathF.Max(0, qq - s) : s;

    internal static float SquaredNorm(ReadOnlySpan<float> v) => System.Numerics.Tensors.TensorPrimitives.Dot(v, v);

    /// <summary>Checks a prepared vector (row <paramref name="row"/> of an Add batch) can be stored by this kind without loss.</summary>
    private protected virtual void CheckStorable(ReadOnlySpan<float> v, int row) { }

    /// <summary>
    /// Copies and checks vectors (finite values, squared norm at most <see cref="MaxSquaredNorm"/>; non-zero for
    /// cosine) and normalises them for cosine.
    /// </summary>
    private protected float[] Prepare(ReadOnlySpan<float> vectors, int n, string what)
    {
        var copy = vectors.ToArray();
        for (int i = 0; i < n; i++)
        {
            var v = copy.AsSpan(i * Dimension, Dimension);
            for (int j = 0; j < v.Length; j++)
                if (!float.IsFinite(v[j])) throw new InputFormatException($"{what} {i}: value at dimension {j} is {v[j].ToString(System.Globalization.CultureInfo.InvariantCulture)}; vectors must be finite (no NaN or infinity)");
            double norm2 = 0;
            foreach (float x in v) norm2 += (double)x * x;
            if (Metric == Metric.Cosine)
            {
                if (norm2 == 0) throw new InputFormatException($"{what} {i}: vector is all zeros; cosine similarity needs a non-zero vector");
                float norm = MathF.Sqrt(SquaredNorm(v));
                if (float.IsFinite(norm) && norm > 0) System.Numerics.Tensors.TensorPrimitives.Divide(v, norm, v);
                else
                {
                    // The float32 norm over- or underflows: normalise in double instead of dividing by Inf or 0.
                    double dn = Math.Sqrt(norm2);
                    for (int j = 0; j < v.Length; j++) v[j] = (float)(v[j] / dn);
                }
            }
            else if (norm2 > MaxSquaredNorm)
                throw new InputFormatException($"{what} {i}: squared norm {norm2.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)} exceeds {MaxSquaredNorm.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)}; scores of vectors this large overflow float32 (scale the vectors down)");
        }
        return copy;
    }

    public virtual void Dispose() { }
}
