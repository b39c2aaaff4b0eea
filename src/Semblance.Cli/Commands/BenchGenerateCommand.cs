// `semblance bench generate`: greedy decoding speed (new tokens per second) with and without the key/value cache.
using System.Diagnostics;
using System.Globalization;
using Semblance.Generation;

namespace Semblance.Cli.Commands;

public sealed class BenchGenerateCommand : CliCommand
{
    public override string Name => "bench generate";

    public override string Summary => "measure greedy decoding speed; last line: new_tokens_per_s=<float> (generated tokens, [SEP] steps included)";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--model", "DIR|ID", "a checkpoint with a masked-LM head"),
        new("--input", "FILE", "source sentences, one per line (required); batches take them in order, cycling"),
        new("--batch-size", "N", "sources decoded together (default 1)"),
        new("--max-new-tokens", "N", "tokens per source unless [SEP] comes first (default 24)"),
        new("--no-cache", null, "recompute the whole sequence every step"),
        new("--batches", "N", "timed batches after one warm-up batch (default 5)"),
        EncoderArgs.Threads,
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var input = args.Require("--input");
        var sources = Semblance.IO.TextLines.ReadFile(input).ToList();
        if (sources.Count == 0) throw new InputFormatException($"{input}: no lines to generate from");
        int batchSize = args.GetInt("--batch-size", 1, 1, 1024), batches = args.GetInt("--batches", 5, 1, 100000);
        int threads = args.GetInt("--threads", Environment.ProcessorCount, 1, 1024);
        var options = new DecodingOptions
        {
            Strategy = DecodingStrategy.Greedy,
            MaxNewTokens = args.GetInt("--max-new-tokens", 24, 1, 1 << 16),
            UseCache = !args.Has("--no-cache"),
        };
        using var model = MaskedLanguageModel.Load(args.Require("--model"), threads);
        var inv = CultureInfo.InvariantCulture;
        io.Out.WriteLine(string.Create(inv, $"model={args.Require("--model")} batch_size={batchSize} threads={threads} max_new_tokens={options.MaxNewTokens} cache={options.UseCache}"));
        int next = 0;
        List<string> Batch()
        {
            var b = new List<string>(batchSize);
            for (int i = 0; i < batchSize; i++, next++) b.Add(sources[next % sources.Count]);
            return b;
        }
        model.Generate(Batch(), options);
        long tokens = 0;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < batches; i++)
            foreach (var r in model.Generate(Batch(), options))
                foreach (var c in r.Candidates) tokens += c.Ids.Length + (c.Stop == StopReason.Sep ? 1 : 0);
        double elapsed = clock.Elapsed.TotalSeconds;
        io.Out.WriteLine(string.Create(inv, $"elapsed_s={elapsed:F3} sources={batches * batchSize} new_tokens={tokens}"));
        io.Out.WriteLine(string.Create(inv, $"new_tokens_per_s={tokens / elapsed:F2}"));
        return 0;
    }
}
