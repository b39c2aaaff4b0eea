// `semblance encode`: text lines in, one vector per line out (JSONL or .npy), in input order, streaming.
using System.Globalization;
using System.Text;
using Semblance.IO;

namespace Semblance.Cli.Commands;

public sealed class EncodeCommand : CliCommand
{
    public override string Name => "encode";

    public override string Summary => "encode text lines (from --input or stdin) into embeddings (JSONL or .npy)";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        .. EncoderArgs.Common,
        EncoderArgs.AttentionScale,
        EncoderArgs.TrainLength,
        EncoderArgs.Precision,
        new("--input", "FILE", "UTF-8 text, one item per line; - or absent = stdin"),
        new("--output", "FILE", "output file; - or absent = stdout (required for npy)"),
        new("--format", "jsonl|npy", "JSONL {\"embedding\":[...]} per line (default) or a float32 .npy [n, d]"),
        new("--whitening", "FILE", "apply a whitening file (from 'semblance whiten fit') after pooling, before normalisation"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var format = args.Choice("--format", "jsonl", "jsonl", "npy");
        var output = args.Get("--output");
        if (format == "npy" && (output is null || output == "-"))
            throw new UsageException("--format npy needs --output FILE");
        using var encoder = EncoderArgs.Load(args);
        if (args.Get("--whitening") is { } whitening) encoder.UseWhitening(whitening);
        var progress = new Progress(io, "sentences");
        var lines = io.ReadLines(args.Get("--input"));
        if (format == "npy")
        {
            using var npy = new NpyStreamWriter(output!, encoder.Dimension);
            foreach (var chunk in encoder.EncodeStream(lines, progress: progress))
                npy.WriteRows(chunk.Vectors.Span);
            npy.Complete();
        }
        else
        {
            using var text = io.OpenOutput(output);
            var sb = new StringBuilder();
            foreach (var chunk in encoder.EncodeStream(lines, progress: progress))
            {
                for (int i = 0; i < chunk.Count; i++)
                {
                    sb.Clear();
                    AppendJsonVector(sb.Append("{\"embedding\":"), chunk.Vector(i)).Append('}');
                    text.Writer.WriteLine(sb);
                }
            }
            text.Commit();
        }
        progress.Done();
        return 0;
    }

    /// <summary>Appends [v0,v1,...] with shortest round-trip float formatting.</summary>
    internal static StringBuilder AppendJsonVector(StringBuilder sb, ReadOnlySpan<float> v)
    {
        Span<char> buf = stackalloc char[32];
        sb.Append('[');
        for (int j = 0; j < v.Length; j++)
        {
            if (j > 0) sb.Append(',');
            float x = v[j];
            if (!float.IsFinite(x)) throw new SemblanceException($"non-finite value {x.ToString(CultureInfo.InvariantCulture)} in an embedding");
            x.TryFormat(buf, out int n, "R", CultureInfo.InvariantCulture);
            sb.Append(buf[..n]);
        }
        return sb.Append(']');
    }
}
