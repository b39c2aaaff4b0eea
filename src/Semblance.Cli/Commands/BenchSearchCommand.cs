// `semblance bench search`: queries per second (and recall@k against exact ground truth) of an index on .npy queries.
using System.Diagnostics;
using System.Globalization;
using Semblance.IO;
using Semblance.Search;

namespace Semblance.Cli.Commands;

public sealed class BenchSearchCommand : CliCommand
{
    public override string Name => "bench search";

    public override string Summary => "measure search speed and recall@k; last line: qps=<float> recall_at_k=<float or nan>";

    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("--index", "IDX", "index directory (ids must be the row numbers of the base vectors for recall)"),
        new("--query-vectors", "Q.npy", "query vectors [nq, d]"),
        new("--ground-truth", "GT.npy", "exact neighbour row numbers, int32/int64 [nq, >= k]"),
        new("-k", "K", "hits per query (default 10)"),
        new("--ef-search", "E", "HNSW candidate list size"),
        new("--batch-size", "N", "queries per Search call (default: all at once; 1 = one-by-one)"),
        new("--threads", "N", "worker threads (default: all CPUs)"),
        new("--repeats", "N", "timed repeats after one warm-up pass; the median is reported (default 3)"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var dir = args.Require("--index");
        var qpath = args.Require("--query-vectors");
        int k = args.GetInt("-k", 10, 1);
        int ef = args.GetInt("--ef-search", 0, 1);
        int repeats = args.GetInt("--repeats", 3, 1);
        var sw = Stopwatch.StartNew();
        using var index = VectorIndex.Load(dir);
        index.Threads = args.GetInt("--threads", Environment.ProcessorCount, 1);
        io.Out.WriteLine($"loaded {dir}: kind={index.Kind} count={index.Count} dimension={index.Dimension} distance_tier={Numerics.DistanceKernels.ForCurrentThread.Tier} seconds={sw.Elapsed.TotalSeconds:F2}");
        var q = Npy.ReadFloat32(qpath);
        if (q.Columns != index.Dimension)
            throw new InputFormatException($"{qpath}: query vectors have dimension {q.Columns} but index {dir} has dimension {index.Dimension}");
        NpyMatrix<long>? gt = null;
        if (args.Get("--ground-truth") is { } gpath)
        {
            gt = Npy.ReadInt64(gpath);
            if (gt.Rows != q.Rows || gt.Columns < k)
                throw new InputFormatException($"{gpath}: ground truth has shape ({gt.Rows}, {gt.Columns}); expected ({q.Rows}, >= {k})");
        }
        int batch = args.GetInt("--batch-size", Math.Max(1, q.Rows), 1);
        var options = new SearchOptions { EfSearch = ef };
        SearchHit[][] RunAll()
        {
            var all = new SearchHit[q.Rows][];
            for (int s = 0; s < q.Rows; s += batch)
            {
                int n = Math.Min(batch, q.Rows - s);
                var hits = index.SearchBatch(q.Data.AsSpan(s * q.Columns, n * q.Columns), k, options);
                Array.Copy(hits, 0, all, s, n);
            }
            return all;
        }
        var result = RunAll();
        var qps = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            sw.Restart();
            result = RunAll();
            double v = q.Rows / sw.Elapsed.TotalSeconds;
            qps.Add(v);
            io.Out.WriteLine($"repeat {r + 1}/{repeats}: qps={v.ToString("F1", CultureInfo.InvariantCulture)}");
        }
        qps.Sort();
        double median = qps[qps.Count / 2];
        double recall = double.NaN;
        if (gt is not null)
        {
            long hit = 0;
            for (int i = 0; i < q.Rows; i++)
            {
                var truth = new HashSet<long>();
                for (int j = 0; j < k; j++) truth.Add(gt.Data[(long)i * gt.Columns + j]);
                foreach (var h in result[i])
                {
                    if (!long.TryParse(h.Id, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                        throw new InputFormatException($"{dir}: item id '{h.Id}' is not a row number; recall needs an index built from --vectors without --ids");
                    if (truth.Contains(id)) hit++;
                }
            }
            recall = (double)hit / ((long)q.Rows * k);
        }
        io.Out.WriteLine($"qps={median.ToString("F1", CultureInfo.InvariantCulture)} recall_at_k={(double.IsNaN(recall) ? "nan" : recall.ToString("F4", CultureInfo.InvariantCulture))}");
        return 0;
    }
}
