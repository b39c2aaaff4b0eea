// Targets for the index directory: the manifest, and the items, flat and HNSW payloads (checksums re-sealed around
// the mutated bytes so they reach the decoders), each loaded, searched and (HNSW) extended.
using System.Text;
using Semblance.Search;

namespace Semblance.Fuzz.Targets;

internal static class IndexExercise
{
    /// <summary>Loads the index in <paramref name="dir"/>, searches it, and optionally adds an item and searches again.</summary>
    public static void Run(string dir, bool add)
    {
        using var index = VectorIndex.Load(dir);
        var q = new float[index.Dimension * 2];
        for (int i = 0; i < q.Length; i++) q[i] = (i % 3) - 0.7f;
        GC.KeepAlive(index.SearchBatch(q, 5, new SearchOptions { EfSearch = 8 }));
        if (!add) return;
        index.Add(q.AsSpan(0, index.Dimension), ["fuzz-added"]);
        GC.KeepAlive(index.SearchBatch(q, 3));
    }
}

/// <summary>manifest.json: its JSON line (types, keys, counts, file entries); the checksum line is usually re-sealed.</summary>
public sealed class IndexManifestTarget : FuzzTarget
{
    public override string Name => "index-manifest";
    public override string Description => "manifest.json → VectorIndex.Load + Search";
    private static readonly string[] Kinds = ["flat", "flat-f16", "flat-int8", "hnsw"];

    public override IEnumerable<byte[]> Seeds() => Kinds.Select(k => Templates.Index(k)[IndexManifest.FileName]);

    public override byte[] PostMutate(byte[] mutated, Random rng) => rng.Next(10) < 8 ? Templates.SealManifest(mutated) : mutated;

    public override void Execute(byte[] input, string work)
    {
        var text = Encoding.UTF8.GetString(input);
        var kind = Kinds.FirstOrDefault(k => text.Contains($"\"kind\":\"{k}\"", StringComparison.Ordinal)) ?? "flat";
        Templates.WriteIndex(work, Templates.Index(kind));
        File.WriteAllBytes(Path.Combine(work, IndexManifest.FileName), input);
        IndexExercise.Run(work, add: false);
    }
}

/// <summary>items.G.bin payload: count, flags, offsets, UTF-8 ids and payloads.</summary>
public sealed class IndexItemsTarget : FuzzTarget
{
    public override string Name => "index-items";
    public override string Description => "items payload (re-sealed) → VectorIndex.Load + Search";
    public override IEnumerable<byte[]> Seeds() => [Templates.Payload(Templates.Index("flat"), "items")];

    public override void Execute(byte[] input, string work)
    {
        Templates.WriteIndex(work, Templates.WithPayload(Templates.Index("flat"), "items", input));
        IndexExercise.Run(work, add: false);
    }
}

/// <summary>Flat payloads: byte 0 picks f32/f16/int8 vectors or the int8 quantiser; the rest is the payload.</summary>
public sealed class IndexFlatTarget : FuzzTarget
{
    public override string Name => "index-flat";
    public override string Description => "flat vectors (f32, f16, int8) and int8 quantiser payloads (re-sealed) → Load + Search";
    private static readonly (string Kind, string Role)[] Choices = [("flat", "vectors"), ("flat-f16", "vectors"), ("flat-int8", "vectors"), ("flat-int8", "quantizer"), ("flat-int8", "originals")];

    public override IEnumerable<byte[]> Seeds() =>
        Choices.Select((c, i) => (byte[])[(byte)i, .. Templates.Payload(Templates.Index(c.Kind), c.Role)]);

    public override void Execute(byte[] input, string work)
    {
        if (input.Length == 0) throw new InputFormatException("empty input");
        var (kind, role) = Choices[input[0] % Choices.Length];
        Templates.WriteIndex(work, Templates.WithPayload(Templates.Index(kind), role, input[1..]));
        IndexExercise.Run(work, add: false);
    }
}

/// <summary>HNSW payloads: byte 0 picks the graph or the vectors; loaded, searched, then extended by one insert.</summary>
public sealed class IndexHnswTarget : FuzzTarget
{
    public override string Name => "index-hnsw";
    public override string Description => "HNSW graph and vectors payloads (re-sealed) → Load + Search + Add";
    private static readonly string[] Roles = ["graph", "vectors"];

    public override IEnumerable<byte[]> Seeds() => Roles.Select((r, i) => (byte[])[(byte)i, .. Templates.Payload(Templates.Index("hnsw"), r)]);

    public override void Execute(byte[] input, string work)
    {
        if (input.Length == 0) throw new InputFormatException("empty input");
        var role = Roles[input[0] % Roles.Length];
        Templates.WriteIndex(work, Templates.WithPayload(Templates.Index("hnsw"), role, input[1..]));
        IndexExercise.Run(work, add: true);
    }
}
