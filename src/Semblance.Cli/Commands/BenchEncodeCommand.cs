// `semblance bench encode`: sustained encoding throughput on a file, the way `encode` runs (sorted chunks, batches).
using System.Diagnostics;
using System.Globalization;
using Semblance.Embeddings;
using Semblance.Models;

namespace Semblance.Cli.Commands;

public sealed class BenchEncodeCommand : CliCommand
{
    public override string Name => "bench encode";

    public override string Summary => "measure encoding throughput; last line: sentences_per_s=<float> tokens_per_s=<float>";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        EncoderArgs.Model,
        new("--input", "FILE", "UTF-8 sentences, one per line (required)"),
        EncoderArgs.BatchSize,
        EncoderArgs.Threads,
        EncoderArgs.MaxLength,
        EncoderArgs.Pooling,
        EncoderArgs.Precision,
        new("--seconds", "S", "timed duration after warm-up (default 10); whole chunks are timed"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var input = args.Require("--input");
        double seconds = args.GetDouble("--seconds", 10, 0.01, 86400);
        var sentences = Semblance.IO.TextLines.ReadFile(input).ToList();
        if (sentences.Count == 0) throw new InputFormatException($"{input}: no lines to encode");
        var options = EncoderArgs.Options(args);
        using var encoder = SentenceEncoder.Load(args.Require("--model"), options);
        var inv = CultureInfo.InvariantCulture;
        long loadedManaged = GC.GetTotalMemory(forceFullCollection: true);
        io.Out.WriteLine(string.Create(inv, $"model={args.Require("--model")} sentences={sentences.Count} batch_size={options.BatchSize} threads={options.Threads} dim={encoder.Dimension} precision={options.Precision?.Name() ?? "model default"}"));

        // Length-bucketed work like the peers' plan: sentences ordered by length, cut into slices of 4 batches,
        // slices in a seeded random order (small slices, so a short time box still covers the corpus's length mix);
        // each Encode call sorts its slice by token count and batches it.
        int sliceSize = options.BatchSize * 4;
        var slices = sentences.OrderBy(s => s.Length).Chunk(sliceSize).ToList();
        var rng = new Random(1234);
        rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(slices));
        encoder.EncodeFlat(slices[0].Take(options.BatchSize * 2).ToList());
        io.Out.WriteLine(string.Create(inv, $"warm-up: {Math.Min(slices[0].Length, options.BatchSize * 2)} sentences; {slices.Count} slices of up to {sliceSize}"));
        io.Out.Flush();

        long sentencesDone = 0, tokensDone = 0;
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        int next = 0;
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            var slice = slices[next];
            next = (next + 1) % slices.Count;
            long before = encoder.TokensProcessed;
            encoder.EncodeFlat(slice);
            tokensDone += encoder.TokensProcessed - before;
            sentencesDone += slice.Length;
            if (clock.Elapsed - lastReport >= TimeSpan.FromSeconds(2))
            {
                lastReport = clock.Elapsed;
                io.Out.WriteLine(string.Create(inv, $"progress: {sentencesDone} sentences, {tokensDone} tokens, {clock.Elapsed.TotalSeconds:F1} s"));
                io.Out.Flush();
            }
        }
        double elapsed = clock.Elapsed.TotalSeconds;
        io.Out.WriteLine(string.Create(inv, $"elapsed_s={elapsed:F3} sentences={sentencesDone} tokens={tokensDone} mean_tokens_per_sentence={(double)tokensDone / Math.Max(1, sentencesDone):F2} ms_per_batch={1000.0 * elapsed * options.BatchSize / Math.Max(1, sentencesDone):F2}"));
        // Memory: the managed heap once the model is loaded (packed weights are pinned arrays on it), and the process's peak.
        io.Out.WriteLine(string.Create(inv, $"managed_after_load_MB={loadedManaged / 1e6:F1} peak_rss_MB={Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:F1}"));
        io.Out.WriteLine(string.Create(inv, $"sentences_per_s={sentencesDone / elapsed:F2} tokens_per_s={tokensDone / elapsed:F2}"));
        return 0;
    }
}
