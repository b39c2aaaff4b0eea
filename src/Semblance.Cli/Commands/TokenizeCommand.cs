// `semblance tokenize`: the model's tokenizer on each input line → {"tokens":[...],"ids":[...]} with [CLS]/[SEP].
using System.Text.Encodings.Web;
using System.Text.Json;
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
        new("--max-length", "N", "truncate to N tokens incl. [CLS]/[SEP]; 0 = no truncation (default: max_position_embeddings, at most 512)"),
        new("--input", "FILE", "UTF-8 text, one item per line; - or absent = stdin"),
        new("--output", "FILE", "output file; - or absent = stdout"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var dir = Semblance.Hub.ModelLocator.Resolve(args.Require("--model"));
        var configPath = Path.Combine(dir, TransformerLoader.ConfigFileName);
        int modelLimit = GruConfig.Declares(configPath) ? GruConfig.Load(configPath).MaxLength : TransformerLoader.LoadConfig(dir).MaxPositionEmbeddings;
        int maxLength = args.GetInt("--max-length", Math.Min(modelLimit, 512), 0);
        if (maxLength is 1) throw new UsageException("--max-length 1 leaves no room for [CLS] and [SEP]");
        var tokenizer = BertTokenizer.Load(dir);
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
