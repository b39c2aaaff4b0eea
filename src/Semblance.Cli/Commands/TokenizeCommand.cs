// `semblance tokenize`: the model's tokenizer on each input line → {"tokens":[...],"ids":[...]} with [CLS]/[SEP].
using System.Text.Encodings.Web;
using System.Text.Json;
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Text;

namespace Semblance.Cli.Commands;

public sealed class TokenizeCommand : CliCommand
{
    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public override string Name => "tokenize";

    public override string Summary => "tokenize lines with a model's tokenizer: one JSON line {\"tokens\":[...],\"ids\":[...]} per input line";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        EncoderArgs.Model,
        new("--max-length", "N", "truncate to N tokens incl. [CLS]/[SEP]; 0 = no truncation (default: as encode: max_seq_length, else max_position_embeddings, at most 512)"),
        new("--input", "FILE", "UTF-8 text, one item per line; - or absent = stdin"),
        new("--output", "FILE", "output file; - or absent = stdout"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var model = ModelDirectory.Open(args.Require("--model"));
        int requested = args.GetInt("--max-length", -1, 0);
        if (requested is 1) throw new UsageException("--max-length 1 leaves no room for [CLS] and [SEP]");
        // The same length rule as encode (sentence-transformers' max_seq_length, else the positions, at most 512); 0 = no truncation.
        int maxLength = requested == 0 ? 0 : model.MaxLength(requested);
        var tokenizer = model.LoadTokenizer();
        using var output = io.OpenOutput(args.Get("--output"));
        foreach (var line in io.ReadLines(args.Get("--input")))
        {
            var e = tokenizer.Encode(line, maxLength);
            output.Writer.WriteLine(JsonSerializer.Serialize(new TokenizeLine(e.Tokens, e.Ids), Json));
        }
        output.Commit();
        return 0;
    }

    private sealed record TokenizeLine(
        [property: System.Text.Json.Serialization.JsonPropertyName("tokens")] string[] Tokens,
        [property: System.Text.Json.Serialization.JsonPropertyName("ids")] int[] Ids);
}
