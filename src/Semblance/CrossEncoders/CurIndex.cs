// A CUR index (kind "cur"): search with a cross-encoder without scoring every item (Yadav et al., EMNLP 2022). Built
// offline from anchor queries: R = CE(anchor queries × all items) and U = pinv(A) · R (CurApproximation); a query is
// scored exactly against the anchor items (C), all items are ranked by C · U, and the best candidates are re-scored
// exactly. The directory follows docs/formats/index.md: checksummed data files committed by the manifest, which
// records the cross-encoder (model and checksum) like any index records its encoder.
using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Semblance.Embeddings;
using Semblance.Search;

namespace Semblance.CrossEncoders;

/// <summary>How anchor items are chosen.</summary>
public enum CurAnchorSelection
{
    /// <summary>A seeded uniform sample of the items.</summary>
    Random,

    /// <summary>The items a bi-encoder retrieves for the anchor queries, best ranks first across queries (the paper's seeded variant).</summary>
    BiEncoder,
}

/// <summary>Options of <see cref="CurIndex.Build"/>.</summary>
public sealed record CurBuildOptions
{
    /// <summary>Anchor items k_i (at most the item count).</summary>
    public int AnchorItems { get; init; } = 100;

    public CurAnchorSelection Selection { get; init; }

    /// <summary>Seed of the random anchor sample (and of the fill when bi-encoder neighbours run short).</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Singular values of A at or below this × the largest are dropped from pinv(A).</summary>
    public double RelativeCutoff { get; init; } = 1e-4;

    /// <summary>With <see cref="CurAnchorSelection.BiEncoder"/>: the encoder that retrieves the seed items, and its model name.</summary>
    public SentenceEncoder? BiEncoder { get; init; }

    public string? BiEncoderModel { get; init; }
}

/// <summary>Options of <see cref="CurIndex.Open"/>.</summary>
public sealed record CurIndexOptions
{
    public bool Verify { get; init; } = true;

    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Score with the recorded cross-encoder even if its files changed since the index was built.</summary>
    public bool AllowEncoderMismatch { get; init; }
}

/// <summary>Choosing anchor items.</summary>
public static class CurAnchors
{
    /// <summary><paramref name="count"/> distinct slots of [0, <paramref name="items"/>), a seeded sample.</summary>
    public static int[] Random(int items, int count, int seed)
    {
        var all = Enumerable.Range(0, items).ToArray();
        new Random(seed).Shuffle(all);
        return all[..count];
    }

    /// <summary>
    /// <paramref name="count"/> distinct slots taken from per-query ranked lists, rank by rank (every query's best item,
    /// then every query's second, ...), filled with a seeded sample when the lists run short.
    /// </summary>
    public static int[] FromRankings(IReadOnlyList<int[]> rankings, int items, int count, int seed)
    {
        var chosen = new List<int>(count);
        var seen = new HashSet<int>();
        int longest = rankings.Count == 0 ? 0 : rankings.Max(r => r.Length);
        for (int rank = 0; rank < longest && chosen.Count < count; rank++)
            foreach (var list in rankings)
                if (rank < list.Length && chosen.Count < count && seen.Add(list[rank])) chosen.Add(list[rank]);
        foreach (var slot in Random(items, items, seed))
        {
            if (chosen.Count >= count) break;
            if (seen.Add(slot)) chosen.Add(slot);
        }
        return [.. chosen];
    }

    /// <summary>Per query, the <paramref name="m"/> items nearest by cosine of <paramref name="encoder"/>'s vectors, best first.</summary>
    public static int[][] Nearest(SentenceEncoder encoder, IReadOnlyList<string> queries, IReadOnlyList<string> items, int m) =>
        Nearest(encoder.EncodeFlat(queries, normalize: true), queries.Count, encoder.EncodeFlat(items, normalize: true), items.Count, encoder.Dimension, m);

    /// <summary>Per query row, the <paramref name="m"/> nearest item rows by inner product (exact scan), best first.</summary>
    public static int[][] Nearest(float[] queryVectors, int queries, float[] itemVectors, int items, int dimension, int m)
    {
        using var flat = new FlatIndex(dimension, Metric.InnerProduct);
        flat.Add(itemVectors);
        if (queries == 0) return [];
        return [.. flat.SearchSlots(flat.PrepareQueries(queryVectors, queries), queries, Math.Min(m, items), new SearchOptions()).Select(r => r.Select(x => x.Slot).ToArray())];
    }
}

/// <summary>
/// Cross-encoder search over a fixed item list by CUR decomposition. Typical use:
/// <code>using var cur = CurIndex.Open("idx"); SearchHit[] hits = cur.Search("how do I reset my password", k: 10, depth: 50);</code>
/// A query costs (anchor items + depth) cross-encoder calls. Not thread-safe.
/// </summary>
public sealed class CurIndex : IDisposable
{
    private readonly ItemStore _items;
    private readonly float[] _r;
    private readonly string[] _anchorQueries;
    private readonly CurIndexOptions _options;
    private CrossEncoder? _scorer;
    private bool _ownsScorer;

    private CurIndex(ItemStore items, float[] r, string[] anchorQueries, CurApproximation approximation, IndexEncoder model, JsonObject parameters, int maxLength, CurIndexOptions options)
    {
        _items = items;
        _r = r;
        _anchorQueries = anchorQueries;
        Approximation = approximation;
        Model = model;
        Parameters = parameters;
        MaxLength = maxLength;
        _options = options;
    }

    /// <summary>The approximation: anchor items, U, rank.</summary>
    public CurApproximation Approximation { get; }

    /// <summary>The cross-encoder every score comes from (model and checksum).</summary>
    public IndexEncoder Model { get; }

    /// <summary>What the manifest records besides the files: anchor counts and selection, seed, cut-off, rank, max length.</summary>
    public JsonObject Parameters { get; }

    /// <summary>Tokens per pair the scores were computed with.</summary>
    public int MaxLength { get; }

    public int Count => _items.Slots;

    public int AnchorQueryCount => _anchorQueries.Length;

    /// <summary>Cross-encoder calls spent building R (anchor queries × items; A is R's anchor columns).</summary>
    public long OfflineCalls => (long)_anchorQueries.Length * Count;

    /// <summary>Bytes held for R and U (float32).</summary>
    public long MatrixBytes => 4L * (_r.Length + Approximation.U.Length);

    /// <summary>R = CE(anchor queries × items), [anchor queries, items] row-major.</summary>
    public ReadOnlySpan<float> R => _r;

    public string Text(int slot) => _items.Text(slot)!;

    public string Id(int slot) => _items.Id(slot);

    /// <summary>Whether <paramref name="directory"/> holds a committed CUR index (its manifest's kind).</summary>
    public static bool IsCurIndex(string directory) =>
        File.Exists(Path.Combine(directory, IndexManifest.FileName)) && IndexDirectory.ReadManifest(directory).Kind == IndexManifest.CurKind;

    /// <summary>
    /// Builds a CUR index over <paramref name="texts"/> (ids default to slot numbers) with <paramref name="scorer"/>, loaded
    /// from <paramref name="model"/>: R = CE(anchor queries × items), anchor items chosen as <paramref name="options"/> says,
    /// U = pinv(A) · R. <paramref name="progress"/> gets the number of anchor queries scored so far.
    /// </summary>
    public static CurIndex Build(CrossEncoder scorer, string model, IReadOnlyList<string> texts, IReadOnlyList<string>? ids, IReadOnlyList<string> anchorQueries,
        CurBuildOptions options, Action<int>? progress = null, CancellationToken cancellationToken = default)
    {
        int n = texts.Count, kq = anchorQueries.Count, ki = options.AnchorItems;
        if (n == 0) throw new SemblanceException("a CUR index needs at least one item");
        if (kq == 0) throw new SemblanceException("a CUR index needs at least one anchor query");
        if (ki < 1 || ki > n) throw new SemblanceException($"{ki} anchor items requested but there are {n} items; give between 1 and {n} anchor items");
        if (options.Selection == CurAnchorSelection.BiEncoder && options.BiEncoder is null)
            throw new SemblanceException("bi-encoder-seeded anchor items need a bi-encoder model");
        var items = new ItemStore();
        var idList = ids ?? [.. Enumerable.Range(0, n).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        if (idList.Count != n) throw new ArgumentException("one id per text", nameof(ids));
        items.Validate(idList);
        items.Add(idList, texts);
        var anchors = options.Selection == CurAnchorSelection.Random
            ? CurAnchors.Random(n, ki, options.Seed)
            : CurAnchors.FromRankings(CurAnchors.Nearest(options.BiEncoder!, anchorQueries, texts, ki), n, ki, options.Seed);
        var r = new float[(long)kq * n];
        for (int q = 0; q < kq; q++)
        {
            var query = anchorQueries[q];
            scorer.Score([.. texts.Select(t => (query, t))], raw: true, cancellationToken).CopyTo(r.AsSpan(q * n, n));
            progress?.Invoke(q + 1);
        }
        var approximation = CurApproximation.Fit(r, kq, n, anchors, options.RelativeCutoff);
        var parameters = new JsonObject
        {
            ["anchor_queries"] = kq,
            ["anchor_items"] = ki,
            ["anchor_selection"] = options.Selection == CurAnchorSelection.Random ? "random" : "bi-encoder",
            ["bi_encoder"] = options.Selection == CurAnchorSelection.BiEncoder ? options.BiEncoderModel : null,
            ["seed"] = options.Seed,
            ["relative_cutoff"] = options.RelativeCutoff,
            ["rank"] = approximation.Rank,
            ["max_length"] = scorer.MaxLength,
            ["offline_ce_calls"] = (long)kq * n,
        };
        var recorded = new IndexEncoder { Model = Directory.Exists(model) ? Path.GetFullPath(model) : model, ModelChecksum = IndexEncoder.ComputeModelChecksum(model) };
        var index = new CurIndex(items, r, [.. anchorQueries], approximation, recorded, parameters, scorer.MaxLength, new CurIndexOptions());
        index.Bind(scorer, owns: false);
        return index;
    }

    /// <summary>Writes the index into <paramref name="directory"/> and commits it (the manifest is the commit point).</summary>
    public void Save(string directory)
    {
        var (own, gen) = IndexDirectory.BeginSave(directory);
        using var writeLock = own;
        var files = new Dictionary<string, IndexFileEntry>
        {
            ["items"] = IndexDataFile.Write(directory, IndexDirectory.FileName("items", gen), _items.Write),
            ["cur"] = IndexDataFile.Write(directory, IndexDirectory.FileName("cur", gen), WriteMatrices),
        };
        IndexDirectory.Commit(directory, new IndexManifest
        {
            Generation = gen,
            Kind = IndexManifest.CurKind,
            Metric = "cross-encoder",
            Dimension = Approximation.AnchorItems.Count,
            Count = Count,
            Slots = Count,
            Encoder = Model,
            Parameters = (JsonObject)JsonNode.Parse(Parameters.ToJsonString())!,
            Files = files,
        });
    }

    // Payload: int32 kq, int32 ki, int64 n, int32 rank, int32 s, float64 σ[s], int32 anchors[ki], float32 R[kq·n],
    // float32 U[ki·n], then kq anchor queries (int32 UTF-8 length + bytes).
    private void WriteMatrices(Stream s)
    {
        using var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true);
        var a = Approximation;
        w.Write(_anchorQueries.Length);
        w.Write(a.AnchorItems.Count);
        w.Write((long)Count);
        w.Write(a.Rank);
        w.Write(a.SingularValues.Count);
        foreach (var v in a.SingularValues) w.Write(v);
        foreach (var slot in a.AnchorItems) w.Write(slot);
        w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(R));
        w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.U));
        foreach (var q in _anchorQueries)
        {
            var bytes = Encoding.UTF8.GetBytes(q);
            w.Write(bytes.Length);
            w.Write(bytes);
        }
    }

    /// <summary>Opens the committed CUR index in <paramref name="directory"/>; the cross-encoder loads on the first search.</summary>
    public static unsafe CurIndex Open(string directory, CurIndexOptions? options = null)
    {
        options ??= new CurIndexOptions();
        var m = IndexDirectory.ReadManifest(directory);
        var mpath = Path.Combine(directory, IndexManifest.FileName);
        if (m.Kind != IndexManifest.CurKind) throw new InputFormatException($"{mpath}: index kind '{m.Kind}' is not a CUR (cross-encoder) index");
        var model = m.Encoder ?? throw new InputFormatException($"{mpath}: a CUR index must record its cross-encoder (field 'encoder')");
        int maxLength = m.Parameters["max_length"] is JsonValue v && v.TryGetValue<int>(out var ml) && ml >= 3 ? ml
            : throw new InputFormatException($"{mpath}: parameters.max_length is missing or invalid");
        ItemStore items;
        var itemsEntry = VectorIndex.RequireFile(m, directory, "items");
        using (var f = IndexDataFile.Map(directory, itemsEntry, options.Verify))
            items = ItemStore.Read(f, Path.Combine(directory, itemsEntry.Name));
        if (items.Slots != m.Count || items.Live != m.Count) throw new InputFormatException($"{mpath}: item count {items.Slots} does not match the manifest ({m.Count})");
        var curEntry = VectorIndex.RequireFile(m, directory, "cur");
        var path = Path.Combine(directory, curEntry.Name);
        using var mapped = IndexDataFile.Map(directory, curEntry, options.Verify);
        long length = mapped.Length - IndexDataFile.HeaderBytes;
        byte* p = mapped.Pointer + IndexDataFile.HeaderBytes;
        long at = 0;
        ReadOnlySpan<byte> Take(long bytes)
        {
            if (bytes < 0 || bytes > length - at) throw new InputFormatException($"{path}: CUR data is truncated or its sizes are inconsistent");
            var span = new ReadOnlySpan<byte>(p + at, checked((int)bytes));
            at += bytes;
            return span;
        }
        int kq = BinaryPrimitives.ReadInt32LittleEndian(Take(4)), ki = BinaryPrimitives.ReadInt32LittleEndian(Take(4));
        long n = BinaryPrimitives.ReadInt64LittleEndian(Take(8));
        int rank = BinaryPrimitives.ReadInt32LittleEndian(Take(4)), sigmas = BinaryPrimitives.ReadInt32LittleEndian(Take(4));
        if (kq < 1 || ki < 1 || n != items.Slots || ki > n || sigmas != Math.Min(kq, ki) || rank < 0 || rank > sigmas || ki != m.Dimension)
            throw new InputFormatException($"{path}: CUR header (anchor queries {kq}, anchor items {ki}, items {n}, rank {rank}) does not match the index");
        var sigma = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(Take(8L * sigmas)).ToArray();
        var anchors = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(Take(4L * ki)).ToArray();
        if (anchors.Any(a => a < 0 || a >= n) || anchors.Distinct().Count() != ki) throw new InputFormatException($"{path}: anchor item slots are out of range or repeated");
        var r = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Take(4L * kq * n)).ToArray();
        var u = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Take(4L * ki * n)).ToArray();
        var queries = new string[kq];
        var utf8 = new UTF8Encoding(false, true);
        for (int q = 0; q < kq; q++)
        {
            int bytes = BinaryPrimitives.ReadInt32LittleEndian(Take(4));
            try { queries[q] = utf8.GetString(Take(bytes)); }
            catch (DecoderFallbackException) { throw new InputFormatException($"{path}: anchor query {q} is not valid UTF-8 (the file is damaged)"); }
        }
        if (at != length) throw new InputFormatException($"{path}: CUR data has trailing bytes");
        var approximation = CurApproximation.FromStored(anchors, (int)n, u, rank, sigma);
        return new CurIndex(items, r, queries, approximation, model, m.Parameters, maxLength, options);
    }

    /// <summary>The cross-encoder queries are scored with (the recorded model, opened on first use unless one was bound).</summary>
    public CrossEncoder Scorer => _scorer ?? OpenRecordedScorer();

    private CrossEncoder OpenRecordedScorer()
    {
        var scorer = CrossEncoder.Load(Model.Model, new CrossEncoderOptions { MaxLength = MaxLength, Threads = _options.Threads });
        try
        {
            var given = new IndexEncoder { Model = Model.Model, ModelChecksum = IndexEncoder.ComputeModelChecksum(Model.Model) };
            if (Model.Mismatch(given, ignoreWhitening: true) is { } why && !_options.AllowEncoderMismatch)
                throw new SemblanceException($"CUR index: {why}; its scores are no longer those of the model (rebuild the index, or allow the mismatch explicitly with --allow-encoder-mismatch)");
            Bind(scorer, owns: true);
            return scorer;
        }
        catch
        {
            scorer.Dispose();
            throw;
        }
    }

    private void Bind(CrossEncoder scorer, bool owns)
    {
        if (scorer.MaxLength != MaxLength)
            throw new SemblanceException($"CUR index: the cross-encoder cuts pairs at {scorer.MaxLength} tokens but the index was built with {MaxLength}");
        if (_ownsScorer) _scorer?.Dispose();
        _scorer = scorer;
        _ownsScorer = owns;
    }

    /// <summary>
    /// The best <paramref name="k"/> items for <paramref name="query"/>: exact scores against the anchor items, the
    /// <paramref name="depth"/> best other items by C · U scored exactly, the best of both (raw cross-encoder scores).
    /// </summary>
    public SearchHit[] Search(string query, int k, int depth, CancellationToken cancellationToken = default)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k));
        if (depth < 0) throw new ArgumentOutOfRangeException(nameof(depth));
        var a = Approximation;
        var scorer = Scorer;
        var c = scorer.Score([.. a.AnchorItems.Select(s => (query, Text(s)))], raw: true, cancellationToken);
        var candidates = a.Candidates(c, depth);
        var exact = scorer.Score([.. candidates.Select(s => (query, Text(s)))], raw: true, cancellationToken);
        return [.. a.Merge(c, candidates, exact, k).Select(x => new SearchHit(Id(x.Slot), x.Score, Text(x.Slot)))];
    }

    public void Dispose()
    {
        if (_ownsScorer) _scorer?.Dispose();
        _scorer = null;
    }
}
