// `semblance generate`: SimBERT-style generation of similar sentences for each input line, one JSON object per line.
using System.Globalization;
using System.Text.Json;
using Semblance.Generation;

namespace Semblance.Cli.Commands;

public sealed class GenerateCommand : CliCommand
{
    public override string Name => "generate";

    public override string Summary => "generate similar sentences per line with a UniLM masked-LM (SimBERT): greedy, sampling or beams, optionally ranked";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--model", "DIR|ID", "a BERT/RoFormer checkpoint with a masked-LM head (cls.predictions.*), trained seq2seq (SimBERT)"),
        new("--input", "FILE", "source sentences, one per line; - or absent = stdin"),
        new("--output", "FILE", "output file; - or absent = stdout"),
        new("--greedy", null, "greedy decoding, one {\"ids\",\"text\",\"stop\"} per line (no -n, sampling or beams)"),
        new("-n", "N", $"candidates per source (default 1, at most {DecodingOptions.MaxCandidates}); output {{\"source\",\"candidates\":[...]}} per line"),
        new("--top-p", "P", "nucleus sampling: keep the most likely tokens whose mass reaches P, in (0, 1] (default 0.95: the default decoding)"),
        new("--top-k", "K", "sample among the K most likely tokens (with --top-p too: both apply)"),
        new("--temperature", "T", "divide the logits by T > 0 before sampling (default 1)"),
        new("--seed", "S", "sampling seed (default 0); the same seed, model and source give the same candidates"),
        new("--beams", "B", $"beam search with B beams (at most {DecodingOptions.MaxBeams}); -n ≤ B candidates, best first"),
        new("--length-penalty", "X", "beam score = sum of log-probabilities / generated_length^X (default 1, as Hugging Face)"),
        new("--max-new-tokens", "N", "stop after N tokens when no [SEP] came (default 24)"),
        new("--rank", null, "SimBERT's recipe: generate 2n (beams: B), drop copies of the source and duplicates, keep the n closest to the source by the model's own [CLS]/pooler vector"),
        new("--no-cache", null, "recompute the whole sequence every step instead of one row per step with the key/value cache (same tokens; for comparison)"),
        new("--batch-size", "N", "sources decoded together (default 8)"),
        EncoderArgs.Threads,
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        int maxNew = args.GetInt("--max-new-tokens", 24, 1, 1 << 16);
        bool greedy = args.Has("--greedy"), beams = args.Has("--beams"), rank = args.Has("--rank");
        bool sampling = args.Has("--top-p") || args.Has("--top-k") || args.Has("--temperature") || args.Has("--seed");
        if (greedy && (beams || sampling || args.Has("-n") || rank))
            throw new UsageException("--greedy takes none of -n, --rank, --beams, --top-p, --top-k, --temperature, --seed");
        if (beams && sampling) throw new UsageException("--beams is beam search; --top-p, --top-k, --temperature and --seed are for sampling");
        if (args.Has("--length-penalty") && !beams) throw new UsageException("--length-penalty needs --beams");
        int n = args.GetInt("-n", 1, 1, DecodingOptions.MaxCandidates);
        double topP = args.GetDouble("--top-p", 0.95);
        if (!(topP > 0 && topP <= 1)) throw new UsageException($"--top-p: {topP.ToString(CultureInfo.InvariantCulture)} is out of range (0, 1]");
        double temperature = args.GetDouble("--temperature", 1.0, 0, 1e6);
        if (temperature <= 0) throw new UsageException("--temperature: must be greater than 0");
        var seedText = args.Get("--seed") ?? "0";
        if (!ulong.TryParse(seedText, NumberStyles.None, CultureInfo.InvariantCulture, out var seed))
            throw new UsageException($"--seed: '{seedText}' is not a non-negative integer");
        int beamCount = args.GetInt("--beams", 4, 1, DecodingOptions.MaxBeams);
        if (beams && n > beamCount) throw new UsageException($"-n {n} needs at least {n} beams (--beams {beamCount})");
        var options = new DecodingOptions
        {
            Strategy = greedy ? DecodingStrategy.Greedy : beams ? DecodingStrategy.Beam : DecodingStrategy.Sample,
            Candidates = greedy ? 1 : beams ? (rank ? beamCount : n) : (rank ? Math.Min(2 * n, DecodingOptions.MaxCandidates) : n),
            Beams = beamCount,
            LengthPenalty = args.GetDouble("--length-penalty", 1.0, -100, 100),
            TopK = args.GetInt("--top-k", 0, 1, 1 << 20),
            TopP = topP,
            Temperature = temperature,
            Seed = seed,
            MaxNewTokens = maxNew,
            UseCache = !args.Has("--no-cache"),
        };
        int batchSize = args.GetInt("--batch-size", 8, 1, 1024);
        using var model = MaskedLanguageModel.Load(args.Require("--model"), args.GetInt("--threads", Environment.ProcessorCount, 1, 1024));
        options.Validate(model.MaxPositions);
        using var output = io.OpenOutput(args.Get("--output"));
        long line = 0;
        foreach (var chunk in io.ReadLines(args.Get("--input")).Chunk(batchSize))
        {
            var results = rank ? model.GenerateRanked(chunk, options, n) : model.Generate(chunk, options);
            foreach (var r in results)
            {
                line++;
                if (r.SourceTruncated)
                    io.Err.WriteLine($"note: line {line}: the source was truncated to leave room for {maxNew} new tokens within the model's {model.MaxPositions} positions");
                output.Writer.WriteLine(greedy ? GreedyJson(r.Candidates[0]) : CandidatesJson(r));
            }
        }
        output.Commit();
        return 0;
    }

    /// <summary>The --greedy contract: <c>{"ids", "text", "stop"}</c>.</summary>
    private static string GreedyJson(GeneratedCandidate c) => JsonSerializer.Serialize(new { ids = c.Ids, text = c.Text, stop = GenerationResult.StopName(c.Stop) });

    private static string CandidatesJson(GenerationResult r)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer)) r.WriteJson(w);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
