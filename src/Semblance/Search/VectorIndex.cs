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

/// <summary>
/// One search result: the item's id, its score under the index metric, its stored text and its stored fields (a JSON
/// object), each null if none.
/// </summary>
public sealed record SearchHit(string Id, float Score, string? Text, string? Fields = null);

/// <summary>Per-call search knobs; kinds ignore what does not apply to them.</summary>
public sealed record SearchOptions
{
    /// <summary>HNSW candidate-list size (at least k); 0 = the index default.</summary>
    public int EfSearch { get; init; }

    /// <summary>
    /// Only items whose stored fields equal these values (a JSON string field compares by its value, a number, true,
    /// false or null by its JSON text). Flat kinds return the exact k best matching items; HNSW walks the graph through
    /// every item but collects only matching ones (fewer than k when too few matching items are reachable).
    /// </summary>
    public IReadOnlyDictionary<string, string>? Filter { get; init; }
}

public interface IVectorIndex : IDisposable
{
    int Dimension { get; }
    Metric Metric { get; }
    string Kind { get; }
    long Count { get; }
    void Add(ReadOnlySpan<float> vectors, IReadOnlyList<string>? ids = null, IReadOnlyList<string?>? texts = null, IReadOnlyList<string?>? fields = null);
    void Upsert(ReadOnlySpan<float> vectors, IReadOnlyList<string> ids, IReadOnlyList<string?>? texts = null, IReadOnlyList<string?>? fields = null);
    SearchHit[] Search(ReadOnlySpan<float> query, int k, SearchOptions? options = null);
    SearchHit[][] SearchBatch(ReadOnlySpan<float> queries, int k, SearchOptions? options = null);
    int Remove(IEnumerable<string> ids);
    void Save(string directory);
}

public abstract class VectorIndex : IVectorIndex
{
    internal readonly ItemStore Items;
    internal ItemFields Fields { get; private set; } = new();

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

    /// <summary>The encoder of the indexed text (kept in the manifest so queries are encoded the same way); null for vectors.</summary>
    public IndexEncoder? Encoder { get; set; }

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
    /// Adds vectors (row-major, Dimension each). Ids must be new and unique; without ids the items are numbered by
    /// slot ("0", "1", ... in the order they were ever added). The text (e.g. the source sentence) is returned with
    /// hits, and so are the fields (one JSON object per item, or null), which <see cref="SearchOptions.Filter"/> can
    /// select on. Nothing changes if validation fails.
    /// </summary>
    public void Add(ReadOnlySpan<float> vectors, IReadOnlyList<string>? ids = null, IReadOnlyList<string?>? texts = null, IReadOnlyList<string?>? fields = null) =>
        AddOrReplace(vectors, ids, texts, fields, replace: false);

    /// <summary>Adds items, replacing those whose id is already present (their old vectors are marked removed).</summary>
    public void Upsert(ReadOnlySpan<float> vectors, IReadOnlyList<string> ids, IReadOnlyList<string?>? texts = null, IReadOnlyList<string?>? fields = null) =>
        AddOrReplace(vectors, ids, texts, fields, replace: true);

    private void AddOrReplace(ReadOnlySpan<float> vectors, IReadOnlyList<string>? ids, IReadOnlyList<string?>? texts, IReadOnlyList<string?>? fields, bool replace)
    {
        if (ids is null)
        {
            if (vectors.Length % Dimension != 0)
                throw new InputFormatException($"got {vectors.Length} values, not a multiple of the index dimension {Dimension}");
            ids = Enumerable.Range(0, vectors.Length / Dimension).Select(i => ((long)Items.Slots + i).ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        }
        int n = ids.Count;
        if (vectors.Length != (long)n * Dimension)
        {
            if (n > 0 && vectors.Length % n == 0)
                throw new InputFormatException($"vectors have dimension {vectors.Length / n} but the index has dimension {Dimension}");
            throw new InputFormatException($"got {vectors.Length} values for {n} ids; expected {n} x {Dimension}");
        }
        if (texts is not null && texts.Count != n) throw new InputFormatException($"got {texts.Count} texts for {n} ids");
        if (fields is not null && fields.Count != n) throw new InputFormatException($"got {fields.Count} field objects for {n} ids");
        if ((long)Items.Slots + n > int.MaxValue - 16) throw new SemblanceException($"the index would exceed {int.MaxValue - 16} items");
        Items.Validate(ids, allowPresent: replace);
        var prepared = Prepare(vectors, n, "vector");
        for (int i = 0; i < n; i++) CheckStorable(prepared.AsSpan(i * Dimension, Dimension), i);
        Fields.Add(Items.Slots, n, fields);
        if (replace) foreach (var id in ids) Items.Remove(id);
        AddCore(prepared, n);
        Items.Add(ids, texts);
    }

    /// <summary>The k nearest items to one query vector (Dimension floats), best first; min(k, Count) hits.</summary>
    public SearchHit[] Search(ReadOnlySpan<float> query, int k, SearchOptions? options = null)
    {
        if (query.Length != Dimension)
            throw new InputFormatException($"the query has {query.Length} values but the index has dimension {Dimension}");
        return SearchBatch(query, k, options)[0];
    }

    /// <summary>
    /// k nearest items for each query (row-major, Dimension each), best first. Returns min(k, Count) hits per query.
    /// </summary>
    public SearchHit[][] SearchBatch(ReadOnlySpan<float> queries, int k, SearchOptions? options = null)
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
            result[q] = raw[q].Select(h => new SearchHit(Items.Id(h.Slot), PublicScore(h.Score, qq), Items.Text(h.Slot), Fields.Json(h.Slot))).ToArray();
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
        var (own, gen) = IndexDirectory.BeginSave(directory);
        using var writeLock = own;
        var files = new Dictionary<string, IndexFileEntry>
        {
            ["items"] = IndexDataFile.Write(directory, IndexDirectory.FileName("items", gen), Items.Write),
        };
        if (Fields.Any) files["fields"] = IndexDataFile.Write(directory, IndexDirectory.FileName("fields", gen), s => Fields.Write(s, Items.Slots));
        WriteData(directory, gen, files);
        var manifest = new IndexManifest
        {
            Generation = gen,
            Kind = Kind,
            Metric = MetricName(Metric),
            Dimension = Dimension,
            Count = Count,
            Slots = Items.Slots,
            Encoder = Encoder,
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
        if (m.Kind == IndexManifest.CurKind)
            throw new InputFormatException($"{directory}: a CUR (cross-encoder) index holds no vectors; search it with 'semblance search --index {directory} --query TEXT' and rebuild it to change it");
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
        index.Encoder = m.Encoder;
        if (m.Files.TryGetValue("fields", out var fieldsEntry))
        {
            try
            {
                using var f = IndexDataFile.Map(directory, fieldsEntry, verify);
                index.Fields = ItemFields.Read(f, Path.Combine(directory, fieldsEntry.Name), items.Slots);
            }
            catch
            {
                index.Dispose();
                throw;
            }
        }
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

    /// <summary>Slots a search must not return: removed ones, and those failing the options' filter.</summary>
    private protected bool[]? ExcludedSlots(SearchOptions options) =>
        options.Filter is { Count: > 0 } filter ? Fields.Excluded(filter, Items.Slots, Items.DeletedMask) : Items.DeletedMask;

    /// <summary>For L2, kinds rank by 2·q·x − |x|² (larger is better); the public score is the squared distance.</summary>
    private float PublicScore(float s, float qq) => Metric == Metric.L2 ? MathF.Max(0, qq - s) : s;

    internal static float SquaredNorm(ReadOnlySpan<float> v) => Numerics.Distance.Dot(v, v);

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
