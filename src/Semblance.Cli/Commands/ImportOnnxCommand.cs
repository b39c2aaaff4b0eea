// `semblance import onnx`: converts a BERT-family ONNX encoder into a Hugging Face model directory.
using System.Diagnostics;
using System.Globalization;
using Semblance.Embeddings;
using Semblance.Models.Onnx;

namespace Semblance.Cli.Commands;

public sealed class ImportOnnxCommand : CliCommand
{
    public override string Name => "import onnx";

    public override string Summary => "convert a BERT-family ONNX encoder (weights, config inferred from the graph) into a model directory";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--input", "MODEL.onnx", "the ONNX model (external data files are read from its directory)"),
        new("--vocab", "VOCAB.txt", "the model's WordPiece vocabulary"),
        new("--output", "DIR", "model directory to create (must not exist or be empty)"),
        new("--pooling", "P", "also write sentence-transformers pooling: cls|mean|max"),
        new("--normalize", null, "also write a sentence-transformers Normalize module (needs --pooling)"),
        new("--max-seq-length", "N", "write sentence_bert_config.json with this max_seq_length"),
        new("--cased", null, "the vocabulary is cased: do not lowercase (default: lowercase, as uncased BERT)"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var input = args.Require("--input");
        var vocab = args.Require("--vocab");
        var output = args.Require("--output");
        bool normalize = args.Has("--normalize");
        PoolingMode? pooling = args.Get("--pooling") is { } p ? Pooling.Parse(p) : null;
        if (normalize && pooling is null) throw new UsageException("--normalize needs --pooling");
        var options = new OnnxImportOptions
        {
            VocabularyPath = vocab,
            DoLowerCase = !args.Has("--cased"),
            Pooling = pooling,
            Normalize = normalize,
            MaxSeqLength = args.GetInt("--max-seq-length", 0, 1),
        };
        var clock = Stopwatch.StartNew();
        var result = OnnxImporter.Import(input, options, output);
        var c = result.Config;
        io.Out.WriteLine(string.Format(CultureInfo.InvariantCulture,
            "imported {0}: bert, {1} layers, hidden {2}, {3} heads, FFN {4}, {5}, eps {6:G}, {7} positions, vocab {8}, {9} tensors{10} ({11:F1} s) -> {12}",
            input, c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize, c.HiddenAct, c.LayerNormEps,
            c.MaxPositionEmbeddings, c.VocabSize, result.TensorCount, result.HasPooler ? ", pooler" : "", clock.Elapsed.TotalSeconds, output));
        return 0;
    }
}
