// Sentences/s of the contestants on the same sentences, interleaved in rounds (A B C A B C ...) so that a noisy,
// shared machine slows every contestant alike; the figure of record is the median over rounds.
using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Semblance.Embeddings;
using Semblance.Hub;
using Semblance.Text;

namespace Semblance.Peers;

internal sealed record ThroughputSettings(
    string Model, string? Onnx, string? OnnxInt8, IReadOnlyList<string> Sentences, int PerRound, int Rounds, IReadOnlyList<int> Threads, IReadOnlyList<int> Batches, IReadOnlyList<string> Contestants);

internal static class Throughput
{
    public static readonly string[] AllContestants = ["package", "package-unsorted", "ort", "ort-nospin", "ort-int8", "semblance", "semblance-int8"];

    public static int Run(ThroughputSettings s, TextWriter log)
    {
        var inv = CultureInfo.InvariantCulture;
        if (s.Model != MiniLm.HubId && s.Contestants.Any(c => c.StartsWith("package", StringComparison.Ordinal)))
            throw new ArgumentException($"--contestants: the package's encoder runs only {MiniLm.HubId}, not {s.Model}");
        var directory = ModelLocator.Locate(s.Model);
        int maxLength, dimension;
        using (var probe = SentenceEncoder.Load(s.Model, new EncoderOptions { Threads = 1 })) (maxLength, dimension) = (probe.Backend.MaxLength, probe.Dimension);
        var tokenizer = BertTokenizer.Load(directory.Directory);
        var graph = s.Onnx is null ? MiniLm.ReadGraph() : File.ReadAllBytes(s.Onnx);
        if (s.Contestants.Contains("ort-int8") && s.OnnxInt8 is null)
            throw new ArgumentException("--contestants ort-int8 needs --onnx-int8 FILE (tools/quantize_dynamic_onnx.py writes it)");
        var graphInt8 = s.OnnxInt8 is null ? null : File.ReadAllBytes(s.OnnxInt8);
        log.WriteLine($"# model {s.Model} from {directory.Describe()}; max length {maxLength}; graph {graph.Length / 1e6:F1} MB from {s.Onnx ?? MiniLm.PackageDll}");

        // Round r encodes sentences [r * PerRound, (r + 1) * PerRound) of a seeded shuffle of the input (wrapping),
        // so the rounds together cover the input and every contestant sees the same slice in the same round.
        var shuffled = s.Sentences.ToArray();
        new Random(20261203).Shuffle(shuffled);
        var slices = Enumerable.Range(0, s.Rounds)
            .Select(r => Enumerable.Range(0, s.PerRound).Select(i => shuffled[((long)r * s.PerRound + i) % shuffled.Length]).ToArray()).ToArray();
        var tokens = slices.Select(slice => slice.Sum(t => (long)tokenizer.Encode(t, maxLength).Length)).ToArray();
        log.WriteLine(string.Create(inv, $"# {s.Sentences.Count} input sentences; {s.Rounds} rounds of {s.PerRound}; mean {tokens.Sum() / (double)(s.Rounds * s.PerRound):F1} tokens per sentence (Semblance's tokenizer, cut at {maxLength})"));
        log.WriteLine($"# load at start: {File.ReadAllText("/proc/loadavg").Trim()}");

        var rows = new List<(int Threads, int Batch, string Name, double Sentences, double Tokens, double MinCosine, double[] PerRound)>();
        foreach (int threads in s.Threads)
        {
            foreach (int batch in s.Batches)
            {
                var contestants = s.Contestants.Select(name => Create(name, s.Model, graph, graphInt8, directory.Directory, maxLength, dimension, threads, batch)).ToList();
                try
                {
                    var rates = contestants.Select(_ => new double[s.Rounds]).ToArray();
                    var minCosine = contestants.Select(_ => 1.0).ToArray();
                    // Warm-up: each contestant once on a short slice (sessions, arenas, JIT); not timed.
                    var warm = slices[0].Take(Math.Max(2 * batch, 16)).ToArray();
                    foreach (var c in contestants) c.Encode(warm);
                    for (int r = 0; r < s.Rounds; r++)
                    {
                        float[]? reference = null;
                        var outputs = new float[contestants.Count][];
                        for (int k = 0; k < contestants.Count; k++)
                        {
                            var clock = Stopwatch.StartNew();
                            outputs[k] = contestants[k].Encode(slices[r]);
                            rates[k][r] = slices[r].Length / clock.Elapsed.TotalSeconds;
                            if (contestants[k].Name == "semblance") reference = outputs[k];
                        }
                        if (reference is not null)
                            for (int k = 0; k < contestants.Count; k++) minCosine[k] = Math.Min(minCosine[k], MinRowCosine(outputs[k], reference, dimension));
                        log.WriteLine(string.Create(inv, $"threads={threads} batch={batch} round={r + 1} ") +
                            string.Join(' ', contestants.Select((c, k) => string.Create(inv, $"{c.Name}={rates[k][r]:F1}"))));
                    }
                    for (int k = 0; k < contestants.Count; k++)
                    {
                        double median = Median(rates[k]);
                        rows.Add((threads, batch, contestants[k].Name, median, median * tokens.Sum() / (s.Rounds * (double)s.PerRound), minCosine[k], rates[k]));
                    }
                }
                finally
                {
                    foreach (var c in contestants) c.Dispose();
                }
            }
        }
        log.WriteLine($"# load at end: {File.ReadAllText("/proc/loadavg").Trim()}");

        // The table: one row per (threads, batch), one column per contestant, Semblance's ratio to each peer, and
        // issue 11's target against ONNX Runtime (>= 1.3x at batch 1, >= 1.0x at larger batches) for each ort column.
        var names = s.Contestants;
        bool ours = names.Contains("semblance");
        var peers = ours ? names.Where(n => n != "semblance").ToList() : [];
        var orts = peers.Where(n => n.StartsWith("ort", StringComparison.Ordinal)).ToList();
        // int8 pairs (issue 18: semblance-int8 >= 1.8x semblance and >= 1.5x ort-int8), when both sides ran.
        var int8Pairs = new[] { ("semblance-int8", "semblance"), ("semblance-int8", "ort-int8"), ("ort-int8", "ort") }
            .Where(p => names.Contains(p.Item1) && names.Contains(p.Item2)).ToList();
        Console.WriteLine();
        Console.WriteLine("| threads | batch | " + string.Join(" | ", names.Select(n => n + " sent/s")) +
            string.Concat(peers.Select(n => " | semblance / " + n)) + string.Concat(orts.Select(n => $" | target vs {n}")) +
            string.Concat(int8Pairs.Select(p => $" | {p.Item1} / {p.Item2}")) + " |");
        Console.WriteLine("|---:|---:|" + string.Concat(names.Concat(peers).Select(_ => "---:|")) + string.Concat(orts.Select(_ => "---|")) +
            string.Concat(int8Pairs.Select(_ => "---:|")));
        foreach (var group in rows.GroupBy(r => (r.Threads, r.Batch)))
        {
            var byName = group.ToDictionary(r => r.Name);
            double Ratio(string peer) => byName["semblance"].Sentences / byName[peer].Sentences;
            double target = group.Key.Batch == 1 ? 1.3 : 1.0;
            var cells = names.Select(n => byName[n].Sentences.ToString("N1", inv)).ToList();
            cells.AddRange(peers.Select(n => string.Create(inv, $"**{Ratio(n):F2}×**")));
            cells.AddRange(orts.Select(n => string.Create(inv, $"≥ {target:F1}×: {(Ratio(n) >= target ? "met" : "not met")}")));
            cells.AddRange(int8Pairs.Select(p => string.Create(inv, $"{byName[p.Item1].Sentences / byName[p.Item2].Sentences:F2}×")));
            Console.WriteLine($"| {group.Key.Threads} | {group.Key.Batch} | {string.Join(" | ", cells)} |");
        }
        Console.WriteLine();
        Console.WriteLine("Per contestant: median tokens/s, and the lowest cosine of any sentence against Semblance's vector over all rounds:");
        foreach (var r in rows)
            log.WriteLine(string.Create(inv, $"RESULT threads={r.Threads} batch={r.Batch} contestant={r.Name} sentences_per_s={r.Sentences:F2} tokens_per_s={r.Tokens:F2}"));
        foreach (var r in rows)
            Console.WriteLine(string.Create(inv, $"- threads {r.Threads}, batch {r.Batch}, {r.Name}: {r.Tokens:N0} tokens/s; rounds {string.Join(" / ", r.PerRound.Select(x => x.ToString("F1", inv)))} sent/s; lowest cosine vs semblance {r.MinCosine:F6} (1 − cos = {1 - r.MinCosine:G3})"));
        return 0;
    }

    private static IContestant Create(string name, string model, byte[] graph, byte[]? graphInt8, string directory, int maxLength, int dimension, int threads, int batch) => name switch
    {
        "package" => new PackageContestant(threads, batch, sorted: true),
        "package-unsorted" => new PackageContestant(threads, batch, sorted: false),
        "ort" => new OrtContestant(graph, directory, maxLength, dimension, threads, batch),
        "ort-nospin" => new OrtContestant(graph, directory, maxLength, dimension, threads, batch, spin: false),
        "ort-int8" => new OrtContestant(graphInt8!, directory, maxLength, dimension, threads, batch, name: "ort-int8"),
        "semblance" => new SemblanceContestant(model, threads, batch),
        "semblance-int8" => new SemblanceContestant(model, threads, batch, Semblance.Models.WeightPrecision.Int8),
        _ => throw new ArgumentException($"--contestants: unknown contestant '{name}' (known: {string.Join(", ", AllContestants)})"),
    };

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>The lowest cosine between matching rows of two [n, dimension] arrays.</summary>
    private static double MinRowCosine(float[] a, float[] b, int dimension)
    {
        double min = 1;
        for (int row = 0; row < a.Length / dimension; row++)
            min = Math.Min(min, TensorPrimitives.CosineSimilarity(a.AsSpan(row * dimension, dimension), b.AsSpan(row * dimension, dimension)));
        return min;
    }
}
