// Runs a saved default encoder (format 2: [boosted LSA coordinates ; hashed residual]; format 1: LSA → whitening, still loaded).
using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json;
using System.Text.Json.Nodes;
using Semblance.Models;
using Semblance.Numerics;

namespace Semblance.Embeddings.Default;

public sealed class LsaBackend : IEmbeddingBackend
{
    public const string PoolingName = "lsa";

    private readonly TfIdf _tfidf;
    private readonly SpectralLsa? _lsa;
    private readonly SignedHashProjection? _hash;
    // H V [hash dims, lsa dims]: the hash of the LSA subspace, subtracted so that only the residual is hashed.
    private readonly float[]? _hashedBasis;
    private readonly float[]? _v1Projection;
    private readonly Whitening? _v1Whitening;
    private readonly string _directory;

    private LsaBackend(string directory, int version, TfIdf tfidf, int dimension, SpectralLsa? lsa, SignedHashProjection? hash,
        float[]? v1Projection, Whitening? v1Whitening)
    {
        _directory = directory;
        FormatVersion = version;
        _tfidf = tfidf;
        Dimension = dimension;
        _lsa = lsa;
        _hash = hash;
        _hashedBasis = lsa is not null && hash is not null ? hash.ProjectColumns(lsa.Basis, lsa.Dimension) : null;
        _v1Projection = v1Projection;
        _v1Whitening = v1Whitening;
    }

    public string ModelType => DefaultEncoder.ModelType;

    public int FormatVersion { get; }

    public int Dimension { get; }

    public string Pooling => PoolingName;

    public bool NormalizeByDefault => true;

    public int MaxLength => 0;

    public int VocabularySize => _tfidf.Features.Count;

    /// <summary>The model's TF-IDF stage (vocabulary, term weights, features), e.g. for the plain TF-IDF baseline.</summary>
    internal TfIdf TfIdf => _tfidf;

    public static LsaBackend Load(string directory, EncoderOptions options)
    {
        if (options.Pooling is not null && options.Pooling != PoolingName)
            throw new SemblanceException($"--pooling {options.Pooling}: a {DefaultEncoder.ModelType} model has one fixed pooling ({PoolingName}); omit --pooling or pass {PoolingName}");
        var configPath = Path.Combine(directory, "config.json");
        var config = IO.StrictJson.ReadNode(configPath, static m => new ModelFormatException(m)) as JsonObject
            ?? throw new ModelFormatException($"{configPath}: expected a JSON object");
        int version = Int(config, "format_version", configPath);
        if (version is not (1 or DefaultEncoder.FormatVersion))
            throw new ModelFormatException($"{configPath}: format_version {version} is not supported (expected 1 or {DefaultEncoder.FormatVersion}); refit with `semblance fit-default`");
        int dims = Int(config, "dims", configPath);
        if (dims is < 1 or > 1 << 20) throw new ModelFormatException($"{configPath}: dims {dims} must be in 1..{1 << 20}");
        var f = Obj(config, "features", configPath);
        var settings = new LexicalFeatureSettings
        {
            CjkMinN = Int(f, "cjk_min_n", configPath),
            CjkMaxN = Int(f, "cjk_max_n", configPath),
            SubwordMinN = Int(f, "subword_min_n", configPath),
            SubwordMaxN = Int(f, "subword_max_n", configPath),
        };
        settings.Validate(configPath);
        var features = ReadVocabulary(directory);
        int v = features.Length;
        var st = SafeTensorsContent.Read(Path.Combine(directory, DefaultEncoder.WeightsFile), options.AllowNonFinite);
        var featurizer = new LexicalFeatures(settings);

        if (version == 1)
        {
            var tfidf1 = new TfIdf(features, st.Get("idf", v), featurizer);
            var projection = st.Get("projection", v, dims);
            bool whiten = config["whiten"] is { } wn && wn.GetValueKind() == JsonValueKind.True;
            var whitening = whiten ? new Whitening(st.Get("whitening.mean", dims), st.Get("whitening.kernel", dims, dims), dims, 0, double.NaN) : null;
            return new LsaBackend(directory, version, tfidf1, dims, null, null, projection, whitening);
        }

        var tfidf = new TfIdf(features, st.Get("term_weights", v), featurizer);
        var lsaNode = Obj(config, "lsa", configPath);
        var hashNode = Obj(config, "hash", configPath);
        int lsaDims = Int(lsaNode, "dims", configPath);
        int hashDims = Int(hashNode, "dims", configPath);
        if (lsaDims < 0 || hashDims < 1 || lsaDims + hashDims != dims)
            throw new ModelFormatException($"{configPath}: lsa.dims {lsaDims} + hash.dims {hashDims} must equal dims {dims} with at least one hashed dimension");
        int entries = Int(hashNode, "entries_per_feature", configPath);
        if (entries < 1 || entries > Math.Min(hashDims, MaxHashEntries))
            throw new ModelFormatException($"{configPath}: hash.entries_per_feature {entries} must be in 1..{Math.Min(hashDims, MaxHashEntries)}");
        var hash = new SignedHashProjection(v, hashDims, entries, Int(hashNode, "seed", configPath));
        var lsa = lsaDims > 0 ? new SpectralLsa(st.Get("lsa.basis", v, lsaDims), st.Get("lsa.weights", lsaDims)) : null;
        return new LsaBackend(directory, version, tfidf, dims, lsa, hash, null, null);
    }

    private static string[] ReadVocabulary(string directory)
    {
        var vocabPath = Path.Combine(directory, DefaultEncoder.VocabularyFile);
        if (!File.Exists(vocabPath)) throw new ModelFormatException($"{vocabPath}: not found (a {DefaultEncoder.ModelType} model needs its vocabulary)");
        var node = (IO.StrictJson.ReadNode(vocabPath, static m => new ModelFormatException(m)) as JsonObject)?["features"] as JsonArray
            ?? throw new ModelFormatException($"{vocabPath}: expected {{\"features\": [strings]}}");
        return node.Select(n => n?.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : throw new ModelFormatException($"{vocabPath}: every feature must be a string")).ToArray();
    }

    /// <summary>Sanity bound on hash entries per feature: the projection allocates vocabulary × entries, so a damaged config must not multiply it.</summary>
    private const int MaxHashEntries = 1024;

    private static JsonNode Obj(JsonNode node, string name, string path) =>
        node[name] is { } n && n.GetValueKind() == JsonValueKind.Object ? n : throw new ModelFormatException($"{path}: missing object '{name}'");

    private static int Int(JsonNode node, string name, string path)
    {
        var n = node[name];
        if (n is null || n.GetValueKind() != JsonValueKind.Number || !int.TryParse(n.ToJsonString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
            throw new ModelFormatException($"{path}: missing integer field '{name}'");
        return v;
    }

    public long Embed(IReadOnlyList<string> texts, Span<float> output, CancellationToken cancellationToken = default)
    {
        int d = Dimension;
        if (output.Length != (long)texts.Count * d) throw new ArgumentException($"output has {output.Length} floats, expected {texts.Count}x{d}");
        cancellationToken.ThrowIfCancellationRequested();
        var x = _tfidf.Transform(texts);
        if (_v1Projection is not null)
        {
            if (_v1Whitening is null)
            {
                DefaultEncoder.Project(x, 0, texts.Count, _v1Projection, d, output);
                FillUnknown(texts, x, output, 0);
                return x.NonZeros;
            }
            var z = new float[(long)texts.Count * d];
            DefaultEncoder.Project(x, 0, texts.Count, _v1Projection, d, z);
            _v1Whitening.Apply(z, output, texts.Count);
            FillUnknown(texts, x, output, 0);
            return x.NonZeros;
        }
        int k = _lsa?.Dimension ?? 0, hd = d - k;
        var hash = _hash!;
        // Fixed chunks of rows, each finished by one GEMM for (H V) u: the result does not depend on the thread count.
        const int chunk = 256;
        int chunks = (texts.Count + chunk - 1) / chunk;
        var buffer = new float[output.Length];
        Parallel.For(0, chunks, new ParallelOptions { CancellationToken = cancellationToken }, c =>
        {
            int r0 = c * chunk, rows = Math.Min(chunk, texts.Count - r0);
            var o = new Span<float>(buffer, r0 * d, rows * d);
            float[]? u = null, hu = null;
            if (_lsa is not null)
            {
                u = new float[rows * k];
                for (int i = 0; i < rows; i++) _lsa.Coordinates(x, r0 + i, u.AsSpan(i * k, k));
                hu = new float[rows * hd];
                Gemm.MultiplyABt(rows, hd, k, 1f, u, k, _hashedBasis, k, hu, hd);
            }
            for (int i = 0; i < rows; i++)
            {
                var row = o.Slice(i * d, d);
                var h = row[k..];
                hash.Project(x, r0 + i, h);
                if (u is not null)
                {
                    TensorPrimitives.Subtract(h, hu.AsSpan(i * hd, hd), h);
                    TensorPrimitives.Multiply(u.AsSpan(i * k, k), _lsa!.Weights, row[..k]);
                }
            }
        });
        buffer.CopyTo(output);
        FillUnknown(texts, x, output, k);
        return x.NonZeros;
    }

    /// <summary>
    /// A text with no feature in the vocabulary (an empty TF-IDF row) would be the zero vector, which has no cosine. Its
    /// vector is instead the signed hash of its own features (<see cref="LexicalFeatures.ExtractFallback"/>) in the hashed
    /// dimensions [<paramref name="from"/>, d), zero elsewhere: orthogonal in expectation to every text the model knows,
    /// similar to other unknown texts that share character features, and identical for identical texts.
    /// </summary>
    private void FillUnknown(IReadOnlyList<string> texts, SparseRows x, Span<float> output, int from)
    {
        int d = Dimension;
        Dictionary<string, int>? counts = null;
        for (int i = 0; i < texts.Count; i++)
        {
            if (x.RowStart[i] != x.RowStart[i + 1]) continue;
            counts ??= new Dictionary<string, int>(StringComparer.Ordinal);
            _tfidf.Featurizer.ExtractFallback(texts[i], counts);
            var row = output.Slice(i * d, d);
            row[..from].Clear();
            SignedHashProjection.ProjectNamed(counts, _hash?.Seed ?? 0, row[from..]);
        }
    }

    public IReadOnlyList<KeyValuePair<string, string>> Describe()
    {
        var inv = CultureInfo.InvariantCulture;
        var s = _tfidf.Featurizer.Settings;
        string architecture = _v1Projection is not null
            ? (_v1Whitening is null ? "TF-IDF → randomized SVD (LSA) [format 1]" : "TF-IDF → randomized SVD (LSA) → whitening [format 1]")
            : _lsa is null ? string.Format(inv, "TF-IDF → signed hash ({0})", _hash!.Dimension)
            : string.Format(inv, "TF-IDF → [boosted LSA ({0}) ; signed hash of the residual ({1})]", _lsa.Dimension, _hash!.Dimension);
        return
        [
            new("architecture", architecture),
            new("directory", _directory),
            new("format_version", FormatVersion.ToString(inv)),
            new("vocabulary", VocabularySize.ToString(inv)),
            new("features", $"cjk {s.CjkMinN}-{s.CjkMaxN} char grams; words + {s.SubwordMinN}-{s.SubwordMaxN} char subwords"),
        ];
    }

    public void Dispose() { }
}
