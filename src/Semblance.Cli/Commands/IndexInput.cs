// Shared input handling of the index commands: items from text (encoded by a model) or from .npy vectors + ids.
using System.Globalization;
using System.Text.Json;
using Semblance.Embeddings;
using Semblance.IO;

namespace Semblance.Cli.Commands;

internal sealed record IndexItems(float[] Vectors, int Count, int Dimension, string[] Ids, string?[]? Payloads);

internal static class IndexInput
{
    public static readonly OptionSpec[] Options =
    [
        new("--model", "DIR", "model directory used to encode --input (index add: defaults to the one used at build)"),
        new("--input", "FILE", "items to encode: one text per line, or JSONL ({\"id\":..., \"text\":...}) when FILE ends in .jsonl"),
        new("--vectors", "X.npy", "precomputed float32 vectors [n, d] instead of --input"),
        new("--ids", "FILE", "with --vectors: one id per line (default: running item numbers)"),
        new("--whitening", "FILE", "with --input: whitening file applied after the model (index add: defaults to the one used at build)"),
        new("--batch-size", "N", "encoder batch size (default 32)"),
        new("--threads", "N", "worker threads (default: all CPUs)"),
        EncoderArgs.AllowNonFinite,
    ];

    /// <summary>Usage checks that need no file access, so they come before any other error.</summary>
    public static void CheckUsage(CommandArgs args)
    {
        if (args.Has("--vectors") == args.Has("--input")) throw new UsageException("give exactly one of --input FILE (with --model) or --vectors X.npy");
    }

    /// <summary>Reads the items; ids default to running numbers starting at <paramref name="firstNumber"/>.</summary>
    public static IndexItems Read(CommandArgs args, CliIO io, string? defaultModel, string? defaultWhitening, long firstNumber, out string? modelUsed, out string? whiteningUsed)
    {
        modelUsed = null;
        whiteningUsed = null;
        var vectorsPath = args.Get("--vectors");
        var inputPath = args.Get("--input");
        if ((vectorsPath is null) == (inputPath is null)) throw new UsageException("give exactly one of --input FILE (with --model) or --vectors X.npy");
        if (vectorsPath is not null)
        {
            if (args.Has("--model") || args.Has("--whitening")) throw new UsageException("--model and --whitening apply to --input, not to --vectors");
            var m = Npy.ReadFloat32(vectorsPath);
            string[] ids;
            if (args.Get("--ids") is { } idsPath)
            {
                ids = TextLines.ReadFile(idsPath).ToArray();
                if (ids.Length != m.Rows) throw new InputFormatException($"{idsPath}: has {ids.Length} ids but {vectorsPath} has {m.Rows} vectors; expected one id per vector");
            }
            else ids = Numbered(firstNumber, m.Rows);
            return new IndexItems(m.Data, m.Rows, m.Columns, ids, null);
        }
        if (args.Has("--ids")) throw new UsageException("--ids applies to --vectors; with --input give ids in JSONL");
        var model = args.Get("--model") ?? defaultModel ?? throw new UsageException("--input needs --model DIR (the index stores no model)");
        var texts = new List<string>();
        var idList = new List<string>();
        bool jsonl = inputPath!.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);
        long line = 0;
        foreach (var l in io.ReadLines(inputPath))
        {
            line++;
            if (!jsonl)
            {
                texts.Add(l);
                idList.Add((firstNumber + texts.Count - 1).ToString(CultureInfo.InvariantCulture));
                continue;
            }
            if (string.IsNullOrWhiteSpace(l)) continue;
            var (id, text) = ParseJsonl(l, inputPath, line);
            texts.Add(text);
            idList.Add(id ?? (firstNumber + texts.Count - 1).ToString(CultureInfo.InvariantCulture));
        }
        var options = new EncoderOptions
        {
            BatchSize = args.GetInt("--batch-size", 32, 1),
            Threads = args.GetInt("--threads", Environment.ProcessorCount, 1),
            AllowNonFinite = args.Has("--allow-nonfinite"),
        };
        using var encoder = Open(model, args.Get("--whitening") ?? defaultWhitening, options);
        var vectors = encoder.Encode(texts);
        modelUsed = Path.GetFullPath(model);
        whiteningUsed = args.Get("--whitening") is { } w ? Path.GetFullPath(w) : defaultWhitening;
        return new IndexItems(vectors, texts.Count, encoder.Dimension, idList.ToArray(), texts.ToArray());
    }

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

    /// <summary>One JSONL item: {"text": string, "id": string or number (optional)}; any other shape is a one-line error.</summary>
    internal static (string? Id, string Text) ParseJsonl(string l, string path, long line)
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
        return (id, t.GetString()!);
    }

    private static string[] Numbered(long first, int n)
    {
        var ids = new string[n];
        for (int i = 0; i < n; i++) ids[i] = (first + i).ToString(CultureInfo.InvariantCulture);
        return ids;
    }
}
