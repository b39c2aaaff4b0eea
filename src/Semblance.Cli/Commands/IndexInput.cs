// Shared input handling of the index commands: items from text (encoded through a SemanticIndex) or from .npy vectors + ids.
using System.Globalization;
using System.Text.Json;
using Semblance.Embeddings;
using Semblance.IO;
using Semblance.Search;

namespace Semblance.Cli.Commands;

/// <summary>Texts to index, their ids (null: numbered by slot) and stored fields (JSONL's other keys; null: none).</summary>
internal sealed record IndexTexts(string[] Texts, string[]? Ids, string?[]? Fields);

internal static class IndexInput
{
    /// <summary>The input options as `index build` describes them.</summary>
    public static readonly OptionSpec[] Options = Describe(add: false);

    /// <summary>The same options as `index add` describes them (model and whitening default to the build's).</summary>
    public static readonly OptionSpec[] AddOptions = Describe(add: true);

    private static OptionSpec[] Describe(bool add) =>
    [
        new("--model", "DIR", add ? "model used to encode --input (default: the one the index was built with)" : "model directory used to encode --input"),
        new("--input", "FILE", "items to encode: one text per line, or JSONL ({\"id\":..., \"text\":..., other keys stored as fields}) when FILE ends in .jsonl"),
        new("--vectors", "X.npy", "precomputed float32 vectors [n, d] instead of --input"),
        new("--ids", "FILE", "with --vectors: one id per line (default: running item numbers)"),
        new("--whitening", "FILE", add ? "with --input: whitening file applied after the model (default: the one the index was built with)" : "with --input: whitening file applied after the model"),
        new("--batch-size", "N", "encoder batch size (default 32)"),
        new("--threads", "N", "worker threads (default: all CPUs)"),
        EncoderArgs.AllowNonFinite,
    ];

    /// <summary>Usage checks that need no file access, so they come before any other error.</summary>
    public static void CheckUsage(CommandArgs args)
    {
        if (args.Has("--vectors") == args.Has("--input")) throw new UsageException("give exactly one of --input FILE (with --model) or --vectors X.npy");
        if (args.Has("--vectors") && (args.Has("--model") || args.Has("--whitening"))) throw new UsageException("--model and --whitening apply to --input, not to --vectors");
        if (args.Has("--input") && args.Has("--ids")) throw new UsageException("--ids applies to --vectors; with --input give ids in JSONL");
    }

    /// <summary>The --vectors matrix and its ids (--ids, else null: numbered by slot).</summary>
    public static (NpyMatrix<float> Vectors, string[]? Ids) ReadVectors(CommandArgs args)
    {
        var vectorsPath = args.Require("--vectors");
        var m = Npy.ReadFloat32(vectorsPath);
        if (args.Get("--ids") is not { } idsPath) return (m, null);
        var ids = TextLines.ReadFile(idsPath).ToArray();
        if (ids.Length != m.Rows) throw new InputFormatException($"{idsPath}: has {ids.Length} ids but {vectorsPath} has {m.Rows} vectors; expected one id per vector");
        return (m, ids);
    }

    /// <summary>The --input texts; JSONL lines without an id are numbered from <paramref name="firstNumber"/> (their slot).</summary>
    public static IndexTexts ReadTexts(CommandArgs args, CliIO io, long firstNumber)
    {
        var inputPath = args.Require("--input");
        var texts = new List<string>();
        var ids = new List<string?>();
        var fields = new List<string?>();
        bool jsonl = inputPath.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);
        long line = 0;
        foreach (var l in io.ReadLines(inputPath))
        {
            line++;
            if (!jsonl)
            {
                texts.Add(l);
                continue;
            }
            if (string.IsNullOrWhiteSpace(l)) continue;
            var (id, text, other) = ParseJsonl(l, inputPath, line);
            texts.Add(text);
            ids.Add(id);
            fields.Add(other);
        }
        var storedFields = fields.Any(f => f is not null) ? fields.ToArray() : null;
        if (ids.All(id => id is null)) return new IndexTexts(texts.ToArray(), null, storedFields);
        return new IndexTexts(texts.ToArray(), ids.Select((id, i) => id ?? (firstNumber + i).ToString(CultureInfo.InvariantCulture)).ToArray(), storedFields);
    }

    /// <summary>Encoder settings of the index commands (--batch-size, --threads).</summary>
    public static EncoderOptions EncoderOptions(CommandArgs args) => new()
    {
        BatchSize = args.GetInt("--batch-size", 32, 1),
        Threads = args.GetInt("--threads", Environment.ProcessorCount, 1),
        AllowNonFinite = args.Has("--allow-nonfinite"),
    };

    /// <summary>The encoder for an index: the model, then the whitening transform when there is one.</summary>
    public static SentenceEncoder Open(string model, string? whitening, EncoderOptions options)
    {
        var encoder = SentenceEncoder.Load(model, options);
        try
        {
            if (whitening is not null) encoder.UseWhitening(whitening);
            return encoder;
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens --model/--whitening (when given) as the index's encoder; a different encoder than the recorded one is an
    /// error unless --allow-encoder-mismatch. Returns the encoder to dispose, or null when the index opens its own.
    /// </summary>
    public static SentenceEncoder? UseGivenEncoder(SemanticIndex index, CommandArgs args, EncoderOptions options)
    {
        if (args.Get("--model") is not { } model)
        {
            if (args.Has("--whitening")) throw new UsageException("--whitening needs --model (the index applies its own whitening to its own model)");
            return null;
        }
        var whitening = args.Get("--whitening");
        var encoder = Open(model, whitening, options);
        try
        {
            index.UseEncoder(encoder, model, whitening, args.Has("--allow-encoder-mismatch"));
            return encoder;
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
    }

    private static (string? Id, string Text, string? Fields) ParseJsonl(string l, string path, long line)
    {
        {
            using var doc = StrictJson.Parse(l, $"{path}: line {line}", static m => new InputFormatException(m));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InputFormatException($"{path}: line {line}: expected a JSON object with \"text\"");
            if (!root.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String)
                throw new InputFormatException($"{path}: line {line}: missing string field \"text\"");
            string? id = null;
            if (root.TryGetProperty("id", out var i))
                id = i.ValueKind switch
                {
                    JsonValueKind.String => i.GetString(),
                    JsonValueKind.Number => i.GetRawText(),
                    _ => throw new InputFormatException($"{path}: line {line}: \"id\" must be a string or a number"),
                };
            var other = new System.Text.Json.Nodes.JsonObject();
            foreach (var p in root.EnumerateObject())
                if (p.Name is not ("id" or "text")) other[p.Name] = System.Text.Json.Nodes.JsonNode.Parse(p.Value.GetRawText());
            return (id, t.GetString()!, other.Count == 0 ? null : other.ToJsonString());
        }
    }
}
