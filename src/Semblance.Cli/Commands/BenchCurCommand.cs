// `semblance bench cur`: top-k recall against the exact cross-encoder top-k, as a function of the cross-encoder calls per
// query, for CUR retrieval (random and bi-encoder-seeded anchor items) and for bi-encoder retrieve → cross-encoder rerank.
// The exact scores (test queries × corpus, and anchor queries × corpus = R) are computed once, row by row, into a cache
// directory keyed by model, max length and texts; every method then reads the same exact scores, so a budget of B
// calls is simulated exactly (a cross-encoder score does not depend on the batch it is computed in).
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Semblance.CrossEncoders;
using Semblance.Embeddings;
using Semblance.Search;

namespace Semblance.Cli.Commands;

public sealed class BenchCurCommand : CliCommand
{
    public override string Name => "bench cur";

    public override string Summary => "CUR vs bi-encoder + rerank: top-k recall against the exact cross-encoder top-k per CE-call budget (Markdown)";

    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("--model", "CE", "the cross-encoder"),
        new("--bi-encoder", "DIR", "sentence encoder for the retrieve → rerank baseline and the bi-encoder-seeded anchors"),
        new("--corpus", "FILE", "items, one per line"),
        new("--queries", "FILE", "test queries, one per line"),
        new("--anchor-queries", "FILE", "training (anchor) queries, one per line, apart from the test queries"),
        new("--cache", "DIR", "where exact score rows are kept between runs (created if missing)"),
        new("--anchor-items", "LIST", "k_i values to try (default 10,20,50,100)"),
        new("--budgets", "LIST", "cross-encoder calls per query (default 20,50,100,200)"),
        new("-k", "K", "recall of the exact top K (default 10)"),
        new("--time-limit", "MIN", "stop scoring new rows after MIN minutes and evaluate the rows cached so far (default: no limit)"),
        new("--max-length", "N", "tokens per pair (default: the cross-encoder's)"),
        new("--pinv-cutoff", "X", "relative singular-value cut-off of pinv(A) (default 1e-4)"),
        new("--seed", "N", "random anchor sample seed (default 42)"),
        new("--batch-size", "N", "pairs per batch (default 32)"),
        new("--threads", "N", "worker threads (default: all CPUs)"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var inv = CultureInfo.InvariantCulture;
        var model = args.Require("--model");
        var biModel = args.Require("--bi-encoder");
        string[] Lines(string option)
        {
            var path = args.Require(option);
            var lines = io.ReadLines(path).Where(l => l.Trim().Length > 0).ToArray();
            return lines.Length > 0 ? lines : throw new InputFormatException($"{path}: no lines");
        }
        var corpus = Lines("--corpus");
        var tests = Lines("--queries");
        var anchorQueries = Lines("--anchor-queries");
        var cache = args.Require("--cache");
        Directory.CreateDirectory(cache);
        int[] Ints(string option, string fallback) => [.. (args.GetList(option) is { Count: > 0 } l ? l : fallback.Split(',')).Select(x =>
            int.TryParse(x, NumberStyles.None, inv, out var v) && v > 0 ? v : throw new UsageException($"{option}: '{x}' is not a positive integer"))];
        var anchorCounts = Ints("--anchor-items", "10,20,50,100");
        var budgets = Ints("--budgets", "20,50,100,200");
        int k = args.GetInt("-k", 10, 1);
        double limit = args.GetDouble("--time-limit", double.PositiveInfinity, 0);
        double cutoff = args.GetDouble("--pinv-cutoff", 1e-4, 0, 0.5);
        int seed = args.GetInt("--seed", 42);
        int threads = args.GetInt("--threads", Environment.ProcessorCount, 1);
        int n = corpus.Length;
        if (anchorCounts.Max() > n) throw new UsageException($"--anchor-items {anchorCounts.Max()}: the corpus has only {n} items");

        using var ce = CrossEncoder.Load(model, new CrossEncoderOptions { MaxLength = args.GetInt("--max-length", 0, 3, 512), BatchSize = args.GetInt("--batch-size", 32, 1), Threads = threads });
        var checksum = IndexEncoder.ComputeModelChecksum(model);
        var testRows = new ScoreRows(cache, "test", checksum, ce.MaxLength, corpus, tests);
        var anchorRows = new ScoreRows(cache, "anchor", checksum, ce.MaxLength, corpus, anchorQueries);

        // Scoring: test and anchor rows in step, so a time limit leaves both sets equally far along.
        var clock = Stopwatch.StartNew();
        while ((testRows.Done < tests.Length || anchorRows.Done < anchorQueries.Length) && clock.Elapsed.TotalMinutes < limit)
        {
            bool test = anchorRows.Done == anchorQueries.Length ||
                (testRows.Done < tests.Length && (double)testRows.Done / tests.Length <= (double)anchorRows.Done / anchorQueries.Length);
            var rows = test ? testRows : anchorRows;
            var query = (test ? tests : anchorQueries)[rows.Done];
            var watch = Stopwatch.StartNew();
            var scores = ce.Score([.. corpus.Select(t => (query, t))], raw: true);
            rows.Append(scores, watch.Elapsed.TotalSeconds);
            io.Err.WriteLine(string.Create(inv, $"scored {(test ? "test" : "anchor")} query {rows.Done}: {n / watch.Elapsed.TotalSeconds:F0} pairs/s"));
        }
        int nt = testRows.Done, kq = anchorRows.Done;
        if (nt == 0 || kq == 0) throw new SemblanceException("no test or anchor rows are scored yet; raise --time-limit");
        var s = testRows.Read(nt);
        var r = anchorRows.Read(kq);

        // The bi-encoder: corpus vectors cached, queries encoded here.
        var watchBi = Stopwatch.StartNew();
        using var bi = SentenceEncoder.Load(biModel, new EncoderOptions { Threads = threads });
        var corpusVectors = BiEncoderVectors(cache, bi, biModel, corpus);
        double biSeconds = watchBi.Elapsed.TotalSeconds;
        int maxBudget = budgets.Max();
        var biTop = CurAnchors.Nearest(bi.EncodeFlat(tests[..nt], normalize: true), nt, corpusVectors, n, bi.Dimension, maxBudget);
        var anchorNearest = CurAnchors.Nearest(bi.EncodeFlat(anchorQueries[..kq], normalize: true), kq, corpusVectors, n, bi.Dimension, anchorCounts.Max());

        var exact = Enumerable.Range(0, nt).Select(q => TopK(s.AsSpan(q * n, n), Enumerable.Range(0, n), k).ToHashSet()).ToArray();
        double Recall(int q, IEnumerable<int> found) => found.Count(exact[q].Contains) / (double)Math.Min(k, n);

        var columns = new List<(string Name, Func<int, double?> AtBudget)>
        {
            ("bi-encoder → CE rerank", b => Enumerable.Range(0, nt).Average(q => Recall(q, TopK(s.AsSpan(q * n, n), biTop[q].Take(b), k)))),
        };
        foreach (var selection in new[] { "random", "bi-encoder" })
            foreach (int ki in anchorCounts)
            {
                var anchors = selection == "random" ? CurAnchors.Random(n, ki, seed)
                    : CurAnchors.FromRankings([.. anchorNearest.Select(x => x[..Math.Min(ki, x.Length)])], n, ki, seed);
                var cur = CurApproximation.Fit(r, kq, n, anchors, cutoff);
                columns.Add(($"CUR {selection} k_i={ki} (rank {cur.Rank})", b =>
                {
                    if (b < ki) return (double?)null;
                    return Enumerable.Range(0, nt).Average(q =>
                    {
                        var c = anchors.Select(a => s[q * n + a]).ToArray();
                        var candidates = cur.Candidates(c, b - ki);
                        var candidateScores = candidates.Select(i => s[q * n + i]).ToArray();
                        return Recall(q, cur.Merge(c, candidates, candidateScores, k).Select(x => x.Slot));
                    });
                }));
            }

        var o = io.Out;
        o.WriteLine(string.Create(inv, $"corpus {n} items; {nt} of {tests.Length} test queries and {kq} of {anchorQueries.Length} anchor queries scored; cross-encoder {model} (max length {ce.MaxLength}); bi-encoder {biModel}; recall of the exact top-{k}"));
        o.WriteLine();
        o.WriteLine("| CE calls per query | " + string.Join(" | ", columns.Select(c => c.Name)) + " |");
        o.WriteLine("|---:|" + string.Concat(columns.Select(_ => "---:|")));
        foreach (int b in budgets)
            o.WriteLine($"| {b} | " + string.Join(" | ", columns.Select(c => c.AtBudget(b) is { } v ? v.ToString("F3", inv) : "—")) + " |");
        o.WriteLine();
        double secondsPerRow = anchorRows.Seconds / Math.Max(1, anchorRows.Done);
        o.WriteLine(string.Create(inv, $"offline: R = {kq} × {n} = {(long)kq * n:N0} CE calls ({secondsPerRow * kq / 60:F1} min at the measured {n / secondsPerRow:F0} pairs/s); A is R's anchor columns (no extra calls)"));
        o.WriteLine(string.Create(inv, $"memory: R {4.0 * kq * n / 1e6:F1} MB; U = pinv(A)·R {string.Join(", ", anchorCounts.Select(ki => $"k_i={ki}: {4.0 * ki * n / 1e6:F1} MB"))}; bi-encoder vectors {4.0 * n * bi.Dimension / 1e6:F1} MB ({n} × {bi.Dimension}, encoded in {biSeconds:F0} s or read from the cache)"));
        o.WriteLine(string.Create(inv, $"exact brute force: {n:N0} CE calls per query ({testRows.Seconds / Math.Max(1, testRows.Done):F0} s per query here)"));
        return 0;
    }

    /// <summary>The best <paramref name="k"/> of <paramref name="slots"/> by <paramref name="scores"/>, ties by slot.</summary>
    private static int[] TopK(ReadOnlySpan<float> scores, IEnumerable<int> slots, int k)
    {
        var list = slots.ToArray();
        var keys = new (float, int)[list.Length];
        for (int j = 0; j < list.Length; j++) keys[j] = (-scores[list[j]], list[j]);
        Array.Sort(keys, list);
        return list.Length <= k ? list : list[..k];
    }

    /// <summary>Unit-length corpus vectors of the bi-encoder, cached as .npy by model checksum and corpus.</summary>
    private static float[] BiEncoderVectors(string cache, SentenceEncoder bi, string model, string[] corpus)
    {
        var path = Path.Combine(cache, $"bi-{ScoreRows.Key(IndexEncoder.ComputeModelChecksum(model), 0, corpus, [])}.npy");
        if (File.Exists(path))
        {
            var m = IO.Npy.ReadFloat32(path);
            if (m.Rows == corpus.Length && m.Columns == bi.Dimension) return m.Data;
        }
        var vectors = bi.EncodeFlat(corpus, normalize: true);
        IO.Npy.WriteFloat32(path + ".tmp", vectors, corpus.Length, bi.Dimension);
        File.Move(path + ".tmp", path, overwrite: true);
        return vectors;
    }

    /// <summary>
    /// Exact score rows [queries, corpus] appended one query at a time to DIR/TAG-KEY.f32, with DIR/TAG-KEY.json holding
    /// the rows done and the seconds spent; KEY hashes the model checksum, the max length, the corpus and the queries.
    /// </summary>
    private sealed class ScoreRows
    {
        private readonly string _data, _meta;
        private readonly int _n;

        public ScoreRows(string cache, string tag, string checksum, int maxLength, string[] corpus, string[] queries)
        {
            var key = Key(checksum, maxLength, corpus, queries);
            (_data, _meta, _n) = (Path.Combine(cache, $"{tag}-{key}.f32"), Path.Combine(cache, $"{tag}-{key}.json"), corpus.Length);
            if (File.Exists(_meta) && File.Exists(_data) && JsonNode.Parse(File.ReadAllText(_meta)) is JsonObject o)
            {
                Done = (int)o["rows"]!;
                Seconds = (double)o["seconds"]!;
                if (new FileInfo(_data).Length < 4L * _n * Done) throw new InputFormatException($"{_data}: shorter than its {Done} recorded rows; delete it and {_meta}");
            }
        }

        public int Done { get; private set; }

        public double Seconds { get; private set; }

        public static string Key(string checksum, int maxLength, string[] corpus, string[] queries)
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData(Encoding.UTF8.GetBytes($"{checksum}\n{maxLength}\n"));
            foreach (var t in corpus) hash.AppendData(Encoding.UTF8.GetBytes(t + "\n"));
            hash.AppendData("\u0001"u8);
            foreach (var t in queries) hash.AppendData(Encoding.UTF8.GetBytes(t + "\n"));
            return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
        }

        public void Append(float[] row, double seconds)
        {
            using (var f = new FileStream(_data, FileMode.OpenOrCreate, FileAccess.Write))
            {
                f.SetLength(4L * _n * Done);
                f.Position = f.Length;
                f.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(row.AsSpan()));
            }
            Done++;
            Seconds += seconds;
            IO.AtomicFile.WriteAllText(_meta, new JsonObject { ["rows"] = Done, ["seconds"] = Seconds, ["items"] = _n }.ToJsonString() + "\n");
        }

        public float[] Read(int rows)
        {
            var bytes = new byte[4L * _n * rows];
            using (var f = File.OpenRead(_data)) f.ReadExactly(bytes);
            return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        }
    }
}
