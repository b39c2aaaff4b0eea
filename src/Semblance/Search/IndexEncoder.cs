// What encoded an index's text, as recorded in its manifest (docs/formats/index.md, field "encoder"), so that queries
// are encoded exactly the same way: the model and a checksum of its files, pooling, normalisation, the whitening file
// and its checksum and pooling, and the query prompt.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Semblance.Embeddings;

namespace Semblance.Search;

/// <summary>
/// The encoder an index was built with. Null fields were not recorded (indexes of format version 1 record only
/// <see cref="Model"/> and <see cref="Whitening"/>) and are not compared.
/// </summary>
public sealed record IndexEncoder
{
    /// <summary>The model as given: an absolute path for a local directory, else the hub id.</summary>
    public required string Model { get; init; }

    /// <summary><c>sha256:</c> and the hex SHA-256 of the model's config.json and weights (see <see cref="ModelChecksum"/>).</summary>
    public string? ModelChecksum { get; init; }

    /// <summary>Pooling in CLI spelling (mean, cls, ...).</summary>
    public string? Pooling { get; init; }

    /// <summary>Whether vectors are L2-normalised after pooling and whitening.</summary>
    public bool? Normalize { get; init; }

    /// <summary>Absolute path of the whitening file applied after pooling, or null.</summary>
    public string? Whitening { get; init; }

    /// <summary><c>sha256:</c> and the hex SHA-256 of the whitening file.</summary>
    public string? WhiteningChecksum { get; init; }

    /// <summary>The pooling the whitening was fitted under, as the whitening file records it.</summary>
    public string? WhiteningPooling { get; init; }

    /// <summary>Text put before every query (not before the indexed documents), e.g. <c>"query: "</c>.</summary>
    public string? QueryPrompt { get; init; }

    /// <summary>
    /// The identity of <paramref name="encoder"/>, loaded from <paramref name="model"/> with the whitening file
    /// <paramref name="whitening"/> already applied (or none).
    /// </summary>
    public static IndexEncoder Describe(SentenceEncoder encoder, string model, string? whitening = null, string? queryPrompt = null)
    {
        if ((whitening is null) != (encoder.Transform is null))
            throw new ArgumentException(whitening is null ? "the encoder has a transform but no whitening file was named" : "a whitening file was named but the encoder applies no transform");
        return new IndexEncoder
        {
            Model = Directory.Exists(model) ? Path.GetFullPath(model) : model,
            ModelChecksum = ComputeModelChecksum(model),
            Pooling = encoder.Backend.Pooling,
            Normalize = encoder.NormalizeByDefault,
            Whitening = whitening is null ? null : Path.GetFullPath(whitening),
            WhiteningChecksum = whitening is null ? null : FileChecksum(whitening),
            WhiteningPooling = (encoder.Transform as Whitening)?.Pooling,
            QueryPrompt = queryPrompt,
        };
    }

    /// <summary>
    /// The model's identity: SHA-256 over config.json and every <c>*.safetensors</c> file of the directory (name and
    /// bytes, in name order), so a changed config or changed weights give a different checksum. A hub id is resolved
    /// to its cached snapshot first. This is the one place the identity is computed.
    /// </summary>
    public static string ComputeModelChecksum(string model)
    {
        var directory = Embeddings.ModelLocator.Resolve(model);
        if (!Directory.Exists(directory)) throw new ModelFormatException($"{model}: model directory not found");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var files = Directory.EnumerateFiles(directory, "*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal).Prepend("config.json");
        foreach (var name in files)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(name + "\n"));
            using var stream = File.OpenRead(Path.Combine(directory, name!));
            AppendStream(hash, stream);
        }
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary><c>sha256:</c> and the hex SHA-256 of one file.</summary>
    public static string FileChecksum(string path)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var stream = File.OpenRead(path);
        AppendStream(hash, stream);
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void AppendStream(IncrementalHash hash, Stream stream)
    {
        var buffer = new byte[1 << 20];
        int read;
        while ((read = stream.Read(buffer)) > 0) hash.AppendData(buffer, 0, read);
    }

    /// <summary>
    /// Why queries encoded by <paramref name="other"/> would not match vectors encoded by this encoder (one phrase), or
    /// null when they match. Fields either side did not record are not compared; <paramref name="ignoreWhitening"/>
    /// skips the whitening fields (the caller applies this encoder's whitening itself).
    /// </summary>
    internal string? Mismatch(IndexEncoder other, bool ignoreWhitening)
    {
        static bool Differs<T>(T? a, T? b) => a is not null && b is not null && !EqualityComparer<T>.Default.Equals(a, b);
        if (Differs(ModelChecksum, other.ModelChecksum))
            return $"model {other.Model} ({other.ModelChecksum}) is not the model the index was built with, {Model} ({ModelChecksum})";
        if (ModelChecksum is null && other.ModelChecksum is null && Model != other.Model)
            return $"model {other.Model} is not the model the index was built with, {Model}";
        if (Differs(Pooling, other.Pooling)) return $"pooling '{other.Pooling}' is not the index's pooling '{Pooling}'";
        if (ignoreWhitening) return null;
        if ((Whitening is null) != (other.Whitening is null))
            return Whitening is null ? $"whitening {other.Whitening} is applied but the index was built without whitening" : $"the index was built with whitening {Whitening} but none is applied";
        if (Differs(WhiteningChecksum, other.WhiteningChecksum))
            return $"whitening {other.Whitening} ({other.WhiteningChecksum}) is not the index's whitening {Whitening} ({WhiteningChecksum})";
        return null;
    }

    /// <summary>The manifest's "encoder" object.</summary>
    public JsonObject ToJson() => new()
    {
        ["model"] = Model,
        ["model_checksum"] = ModelChecksum,
        ["pooling"] = Pooling,
        ["normalize"] = Normalize,
        ["whitening"] = Whitening,
        ["whitening_checksum"] = WhiteningChecksum,
        ["whitening_pooling"] = WhiteningPooling,
        ["query_prompt"] = QueryPrompt,
    };

    /// <summary>Reads the manifest's "encoder" object (format 2) or null; fields of the wrong type are one-line errors.</summary>
    internal static IndexEncoder? FromJson(JsonNode? node, string path)
    {
        if (node is null) return null;
        if (node is not JsonObject o) throw new InputFormatException($"{path}: manifest field 'encoder' is not an object");
        string? Text(string name)
        {
            var v = o[name];
            if (v is null) return null;
            return v is JsonValue jv && jv.TryGetValue<string>(out var s) ? s : throw new InputFormatException($"{path}: manifest field 'encoder.{name}' is not a string");
        }
        bool? normalize = o["normalize"] switch
        {
            null => null,
            JsonValue jv when jv.TryGetValue<bool>(out var b) => b,
            _ => throw new InputFormatException($"{path}: manifest field 'encoder.normalize' is not a boolean"),
        };
        return new IndexEncoder
        {
            Model = Text("model") ?? throw new InputFormatException($"{path}: manifest field 'encoder.model' is missing"),
            ModelChecksum = Text("model_checksum"),
            Pooling = Text("pooling"),
            Normalize = normalize,
            Whitening = Text("whitening"),
            WhiteningChecksum = Text("whitening_checksum"),
            WhiteningPooling = Text("whitening_pooling"),
            QueryPrompt = Text("query_prompt"),
        };
    }

    /// <summary>One line for `index info` and error messages.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Model} pooling={Pooling ?? "?"} normalize={(Normalize is { } n ? n ? "true" : "false" : "?")} whitening={Whitening ?? "none"}");
}
