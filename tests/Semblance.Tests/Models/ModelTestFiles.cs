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
internal sealed class Checkpoint
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

    public Checkpoint Clone()
    {
        var copy = new Checkpoint { Config = JsonNode.Parse(Config.ToJsonString())!.AsObject() };
        copy.Tensors.AddRange(Tensors.Select(t => t with { Values = (float[])t.Values.Clone() }));
        return copy;
    }

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

/// <summary>Small random-weight checkpoints (fixture-like distributions) for configurations the HF fixtures do not cover.</summary>
internal static class Synthetic
{
    public static Checkpoint Bert(int seed, string act = "gelu", int hidden = 16, int heads = 2, int layers = 2, int intermediate = 32,
        int vocab = 40, int maxPositions = 16, bool pooler = true)
    {
        var rng = new Random(seed);
        var c = new Checkpoint
        {
            Config = new JsonObject
            {
                ["architectures"] = new JsonArray("BertModel"), ["model_type"] = "bert", ["vocab_size"] = vocab, ["hidden_size"] = hidden,
                ["num_hidden_layers"] = layers, ["num_attention_heads"] = heads, ["intermediate_size"] = intermediate, ["hidden_act"] = act,
                ["max_position_embeddings"] = maxPositions, ["type_vocab_size"] = 2, ["layer_norm_eps"] = 1e-12, ["pad_token_id"] = 0,
                ["position_embedding_type"] = "absolute",
            },
        };
        Embedding(c, rng, "embeddings.word_embeddings.weight", vocab, hidden);
        Embedding(c, rng, "embeddings.position_embeddings.weight", maxPositions, hidden);
        Embedding(c, rng, "embeddings.token_type_embeddings.weight", 2, hidden);
        Norm(c, rng, "embeddings.LayerNorm", hidden);
        Layers(c, rng, layers, hidden, intermediate);
        if (pooler) Dense(c, rng, "pooler.dense", hidden, hidden);
        return c;
    }

    public static Checkpoint RoFormer(int seed, string act = "gelu", int hidden = 16, int heads = 4, int layers = 2, int intermediate = 32,
        int vocab = 40, int maxPositions = 16, int? embeddingSize = null, bool rotaryValue = false, bool storeTable = true)
    {
        var rng = new Random(seed);
        int e = embeddingSize ?? hidden;
        var c = new Checkpoint
        {
            Config = new JsonObject
            {
                ["architectures"] = new JsonArray("RoFormerModel"), ["model_type"] = "roformer", ["vocab_size"] = vocab, ["hidden_size"] = hidden,
                ["embedding_size"] = e, ["num_hidden_layers"] = layers, ["num_attention_heads"] = heads, ["intermediate_size"] = intermediate,
                ["hidden_act"] = act, ["max_position_embeddings"] = maxPositions, ["type_vocab_size"] = 2, ["layer_norm_eps"] = 1e-12,
                ["pad_token_id"] = 0, ["rotary_value"] = rotaryValue,
            },
        };
        Embedding(c, rng, "embeddings.word_embeddings.weight", vocab, e);
        Embedding(c, rng, "embeddings.token_type_embeddings.weight", 2, e);
        Norm(c, rng, "embeddings.LayerNorm", e);
        if (e != hidden) Dense(c, rng, "embeddings_project", e, hidden);
        if (storeTable)
        {
            int d = hidden / heads;
            var table = new float[maxPositions * d];
            for (int p = 0; p < maxPositions; p++)
                for (int j = 0; j < d / 2; j++)
                {
                    double angle = p / Math.Pow(10000, 2.0 * j / d);
                    table[p * d + j] = (float)Math.Sin(angle);
                    table[p * d + d / 2 + j] = (float)Math.Cos(angle);
                }
            c.Tensors.Add(new Checkpoint.Entry("encoder.embed_positions.weight", [maxPositions, d], table));
        }
        Layers(c, rng, layers, hidden, intermediate);
        return c;
    }

    /// <summary>Random token sequences of the given lengths, type ids 0 then 1 after the midpoint.</summary>
    public static (List<int[]> Ids, List<int[]> Types) Sequences(int seed, int vocab, params int[] lengths)
    {
        var rng = new Random(seed);
        var ids = lengths.Select(n => Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray()).ToList();
        var types = lengths.Select(n => Enumerable.Range(0, n).Select(i => i < n / 2 ? 0 : 1).ToArray()).ToList();
        return (ids, types);
    }

    private static void Layers(Checkpoint c, Random rng, int layers, int hidden, int intermediate)
    {
        for (int l = 0; l < layers; l++)
        {
            string p = $"encoder.layer.{l}.";
            Dense(c, rng, p + "attention.self.query", hidden, hidden);
            Dense(c, rng, p + "attention.self.key", hidden, hidden);
            Dense(c, rng, p + "attention.self.value", hidden, hidden);
            Dense(c, rng, p + "attention.output.dense", hidden, hidden);
            Norm(c, rng, p + "attention.output.LayerNorm", hidden);
            Dense(c, rng, p + "intermediate.dense", hidden, intermediate);
            Dense(c, rng, p + "output.dense", intermediate, hidden);
            Norm(c, rng, p + "output.LayerNorm", hidden);
        }
    }

    private static float[] Normal(Random rng, int n, double mean, double std) =>
        Enumerable.Range(0, n).Select(_ =>
            (float)(mean + std * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()))).ToArray();

    private static void Embedding(Checkpoint c, Random rng, string name, int rows, int cols) =>
        c.Tensors.Add(new Checkpoint.Entry(name, [rows, cols], Normal(rng, rows * cols, 0, 0.5)));

    private static void Dense(Checkpoint c, Random rng, string name, int inFeatures, int outFeatures)
    {
        c.Tensors.Add(new Checkpoint.Entry(name + ".weight", [outFeatures, inFeatures], Normal(rng, outFeatures * inFeatures, 0, 1 / Math.Sqrt(inFeatures))));
        c.Tensors.Add(new Checkpoint.Entry(name + ".bias", [outFeatures], Normal(rng, outFeatures, 0, 0.1)));
    }

    private static void Norm(Checkpoint c, Random rng, string name, int size)
    {
        c.Tensors.Add(new Checkpoint.Entry(name + ".weight", [size], Normal(rng, size, 1, 0.1)));
        c.Tensors.Add(new Checkpoint.Entry(name + ".bias", [size], Normal(rng, size, 0, 0.1)));
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
