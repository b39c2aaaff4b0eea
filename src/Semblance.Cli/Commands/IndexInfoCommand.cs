// `semblance index info`: prints an index's manifest (kind, metric, counts, files) as one JSON object.
using System.Text.Json.Nodes;
using Semblance.Search;

namespace Semblance.Cli.Commands;

public sealed class IndexInfoCommand : CliCommand
{
    public override string Name => "index info";

    public override string Summary => "describe an index: kind, metric, dimension, item counts, files";

    public override IReadOnlyList<OptionSpec> Options => [new("--index", "IDX", "index directory")];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var dir = args.Require("--index");
        var m = VectorIndex.ReadInfo(dir);
        var files = new JsonObject();
        foreach (var (role, f) in m.Files) files[role] = new JsonObject { ["name"] = f.Name, ["bytes"] = f.Bytes, ["crc32c"] = f.Crc32C.ToString("x8") };
        var o = new JsonObject
        {
            ["index"] = dir,
            ["format_version"] = m.Version,
            ["generation"] = m.Generation,
            ["kind"] = m.Kind,
            ["metric"] = m.Metric,
            ["dimension"] = m.Dimension,
            ["count"] = m.Count,
            ["deleted"] = m.Slots - m.Count,
            ["encoder"] = m.Encoder?.ToJson(),
            ["parameters"] = JsonNode.Parse(m.Parameters.ToJsonString()),
            ["files"] = files,
        };
        io.Out.WriteLine(o.ToJsonString());
        return 0;
    }
}
