// Test helpers for model files: temp directories, fixture cases, and rewriting a checkpoint's tensors or config.
using System.Text.Json;
using System.Text.Json.Nodes;
using Semblance.Models;

namespace Semblance.Tests.Models;

public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "semblance-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Sub(string name)
    {
        var dir = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>One line of a fixture's cases.jsonl.</summary>
public sealed record FixtureCase(string Text, int[] InputIds, int[] TokenTypeIds)
{
    public static List<FixtureCase> Read(string modelDir)
    {
        var cases = new List<FixtureCase>();
        foreach (var line in File.ReadLines(Path.Combine(modelDir, "cases.jsonl")))
        {
            if (line.Length == 0) continue;
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            cases.Add(new FixtureCase(
                root.GetProperty("text").GetString()!,
                root.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                root.GetProperty("token_type_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray()));
        }
        return cases;
    }
}

/// <summary>A checkpoint held in memory as (name, dtype, shape, values), edited by a test and written back out.</summary>
public sealed class Checkpoint
{
    public sealed record Entry(string Name, int[] Shape, float[] Values, string DType = "F32");

    public List<Entry> Tensors { get; } = [];

    public JsonObject Config { get; set; } = new();

    public static Checkpoint ReadFixture(string name)
    {
        var dir = SharedData.FixtureModel(name);
        var checkpoint = new Checkpoint { Config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject() };
        using var file = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors"));
        foreach (var info in file.Tensors.Values.OrderBy(t => t.Offset))
            checkpoint.Tensors.Add(new Entry(info.Name, info.Shape, file.ReadFloat(info.Name).Span.ToArray()));
        return checkpoint;
    }

    public Entry this[string name] => Tensors.Single(t => t.Name == name);

    public void Remove(string name) => Tensors.RemoveAll(t => t.Name == name);

    public void Replace(string name, Entry entry) => Tensors[Tensors.FindIndex(t => t.Name == name)] = entry;

    public void RenameAll(Func<string, string> rename)
    {
        for (int i = 0; i < Tensors.Count; i++) Tensors[i] = Tensors[i] with { Name = rename(Tensors[i].Name) };
    }

    public SafeTensorsWriter Writer(IEnumerable<Entry>? subset = null)
    {
        var writer = new SafeTensorsWriter();
        foreach (var t in subset ?? Tensors) writer.Add(t.Name, t.Shape, t.Values, t.DType);
        return writer;
    }

    /// <summary>Writes config.json and model.safetensors into <paramref name="dir"/>; returns the directory.</summary>
    public string Save(string dir)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), Config.ToJsonString());
        Writer().Save(Path.Combine(dir, "model.safetensors"));
        return dir;
    }
}

public static class Compare
{
    public static float MaxAbs(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        float max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            float d = Math.Abs(a[i] - b[i]);
            if (float.IsNaN(d)) return float.PositiveInfinity;
            max = Math.Max(max, d);
        }
        return max;
    }
}
