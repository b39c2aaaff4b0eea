// Pairs/s of a cross-encoder (BertForSequenceClassification): Semblance's CrossEncoder against ONNX Runtime C# on the
// same graph exported by the PyTorch twin (tools/onnx/export_cross_encoder.py), with Semblance's exact pair tokens.
// Rounds are interleaved (A B A B ...) and the figure of record is the median over rounds, as in Throughput.
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Semblance.CrossEncoders;
using Semblance.Text;

namespace Semblance.Peers;

internal sealed record PairThroughputSettings(string Model, string Onnx, IReadOnlyList<(string, string)> Pairs, int MaxLength, int PerRound, int Rounds, IReadOnlyList<int> Threads, IReadOnlyList<int> Batches);

/// <summary>ONNX Runtime on a cross-encoder graph (input_ids / attention_mask / token_type_ids → logits [batch, labels]).</summary>
internal sealed class OrtPairContestant : IDisposable
{
    private readonly SessionOptions _options;
    private readonly InferenceSession _session;
    private readonly RunOptions _run = new();
    private readonly BertTokenizer _tokenizer;
    private readonly int _maxLength, _batch, _labels;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames = ["logits"];

    public OrtPairContestant(byte[] graph, BertTokenizer tokenizer, int maxLength, int labels, int threads, int batch)
    {
        _options = MiniLm.OrtOptions(threads);
        _session = new InferenceSession(graph, _options);
        (_tokenizer, _maxLength, _batch, _labels) = (tokenizer, maxLength, batch, labels);
        _inputNames = [.. _session.InputMetadata.Keys];
    }

    /// <summary>Logits [pairs, labels] in input order: pairs tokenized by Semblance, sorted by length, padded per batch.</summary>
    public float[] Predict(IReadOnlyList<(string Text, string TextPair)> pairs)
    {
        var encoded = pairs.Select(p => _tokenizer.EncodePair(p.Text, p.TextPair, _maxLength)).ToArray();
        var output = new float[pairs.Count * _labels];
        OrtBatches.Run(_session, _run, _inputNames, _outputNames, encoded, _batch, (rows, _, logits) =>
        {
            for (int j = 0; j < rows.Length; j++) logits.Slice(j * _labels, _labels).CopyTo(output.AsSpan(rows[j] * _labels, _labels));
        });
        return output;
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
        _run.Dispose();
    }
}

internal static class PairThroughput
{
    public static int Run(PairThroughputSettings s, TextWriter log)
    {
        var inv = CultureInfo.InvariantCulture;
        var graph = File.ReadAllBytes(s.Onnx);
        var shuffled = s.Pairs.ToArray();
        new Random(20261203).Shuffle(shuffled);
        var slices = Enumerable.Range(0, s.Rounds)
            .Select(r => Enumerable.Range(0, s.PerRound).Select(i => shuffled[((long)r * s.PerRound + i) % shuffled.Length]).ToArray()).ToArray();
        int maxLength, labels;
        BertTokenizer tokenizer;
        using (var probe = CrossEncoder.Load(s.Model, new CrossEncoderOptions { MaxLength = s.MaxLength, Threads = 1 }))
            (maxLength, labels, tokenizer) = (probe.MaxLength, probe.NumLabels, probe.Tokenizer);
        double meanTokens = slices.SelectMany(x => x).Average(p => tokenizer.EncodePair(p.Item1, p.Item2, maxLength).Length);
        log.WriteLine(string.Create(inv, $"# cross-encoder {s.Model}; graph {s.Onnx} ({graph.Length / 1e6:F1} MB); {labels} label(s); max length {maxLength}; {s.Pairs.Count} pairs; {s.Rounds} rounds of {s.PerRound}; mean {meanTokens:F1} tokens per pair"));
        log.WriteLine($"# load at start: {File.ReadAllText("/proc/loadavg").Trim()}");
        var rows = new List<(int Threads, int Batch, double Ort, double Ours, double MaxDiff)>();
        foreach (int threads in s.Threads)
            foreach (int batch in s.Batches)
            {
                using var ort = new OrtPairContestant(graph, tokenizer, maxLength, labels, threads, batch);
                using var ours = CrossEncoder.Load(s.Model, new CrossEncoderOptions { MaxLength = s.MaxLength, Threads = threads, BatchSize = batch });
                var warm = slices[0].Take(Math.Max(2 * batch, 16)).ToArray();
                ort.Predict(warm);
                ours.Predict(warm);
                var ortRates = new double[s.Rounds];
                var ourRates = new double[s.Rounds];
                double maxDiff = 0;
                for (int r = 0; r < s.Rounds; r++)
                {
                    var clock = Stopwatch.StartNew();
                    var a = ort.Predict(slices[r]);
                    ortRates[r] = slices[r].Length / clock.Elapsed.TotalSeconds;
                    clock.Restart();
                    var b = ours.Predict(slices[r]);
                    ourRates[r] = slices[r].Length / clock.Elapsed.TotalSeconds;
                    for (int i = 0; i < b.Length; i++)
                        for (int j = 0; j < labels; j++) maxDiff = Math.Max(maxDiff, Math.Abs(a[i * labels + j] - b[i][j]));
                    log.WriteLine(string.Create(inv, $"threads={threads} batch={batch} round={r + 1} ort={ortRates[r]:F1} semblance={ourRates[r]:F1}"));
                }
                rows.Add((threads, batch, Throughput.Median(ortRates), Throughput.Median(ourRates), maxDiff));
            }
        log.WriteLine($"# load at end: {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine();
        Console.WriteLine("| threads | batch | ONNX Runtime pairs/s | Semblance pairs/s | Semblance / ORT | max abs logit difference |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (var row in rows)
            Console.WriteLine(string.Create(inv, $"| {row.Threads} | {row.Batch} | {row.Ort:N1} | {row.Ours:N1} | **{row.Ours / row.Ort:F2}×** | {row.MaxDiff:G3} |"));
        return 0;
    }
}
