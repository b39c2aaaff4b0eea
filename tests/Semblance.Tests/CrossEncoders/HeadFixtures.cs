// The task-head fixtures of ../shared/fixtures/heads as loadable model directories: a FULL directory as it is, a
// head-only one completed as its README says (the base model's tensors under the head model's prefix, plus head.safetensors).
using System.Text.Json;
using Semblance.Models;
using Semblance.Tests.Models;

namespace Semblance.Tests.CrossEncoders;

internal static class HeadFixtures
{
    public static string Dir(string name) => SharedData.Path("fixtures", "heads", name);

    /// <summary>
    /// A model directory for fixture <paramref name="name"/> inside <paramref name="temp"/> (or the fixture itself when it
    /// is FULL); an MLM fixture drops the base model's pooler unless <paramref name="keepPooler"/>.
    /// </summary>
    public static string ModelDirectory(string name, TempDir temp, bool keepPooler = false)
    {
        var dir = Dir(name);
        if (File.Exists(Path.Combine(dir, "model.safetensors"))) return dir;
        bool roformer = name.StartsWith("roformer", StringComparison.Ordinal);
        var baseDir = SharedData.FixtureModel(roformer ? "roformer-tiny-chinese" : "bert-tiny-uncased");
        string prefix = roformer ? "roformer." : "bert.";
        var output = temp.Sub(name);
        var writer = new SafeTensorsWriter();
        using (var b = SafeTensorsFile.Open(Path.Combine(baseDir, "model.safetensors")))
            foreach (var t in b.Tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                if (!keepPooler && name.EndsWith("mlm", StringComparison.Ordinal) && t.Name.StartsWith("pooler.", StringComparison.Ordinal)) continue;
                writer.Add(prefix + t.Name, t.Shape, b.ReadFloat(t.Name).Span);
            }
        using (var h = SafeTensorsFile.Open(Path.Combine(dir, "head.safetensors")))
            foreach (var t in h.Tensors.Values) writer.Add(t.Name, t.Shape, h.ReadFloat(t.Name).Span);
        writer.Save(Path.Combine(output, "model.safetensors"));
        foreach (var f in new[] { "config.json", "tokenizer_config.json", "special_tokens_map.json" })
            if (File.Exists(Path.Combine(dir, f))) File.Copy(Path.Combine(dir, f), Path.Combine(output, f));
        File.Copy(Path.Combine(baseDir, "vocab.txt"), Path.Combine(output, "vocab.txt"));
        return output;
    }

    public static List<JsonElement> Cases(string name) =>
        File.ReadLines(Path.Combine(Dir(name), "cases.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    public static int[] Ints(JsonElement e, string field) => e.GetProperty(field).EnumerateArray().Select(x => x.GetInt32()).ToArray();
}
