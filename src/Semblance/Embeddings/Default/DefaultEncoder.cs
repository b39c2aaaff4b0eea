// The default encoder ("semblance-lsa"), fitted on the user's own text so nothing is downloaded:
//   features (LexicalFeatures) → TF-IDF (TfIdf) → randomized truncated SVD to K dims (RandomizedSvd, i.e. LSA)
//   → BERT-whitening fitted on the corpus's own LSA vectors (Whitening) → L2 normalise (SentenceEncoder).
// Knobs: dims K (256), min_df (2) and max_features (32768) bound the vocabulary and the file, seed fixes the SVD.
using Semblance.Models;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Semblance.IO;

namespace Semblance.Embeddings.Default;

public sealed record DefaultEncoderOptions
{
    public int Dimension { get; init; } = 256;
    public int MinDf { get; init; } = 2;
    public int MaxFeatures { get; init; } = 32768;
    public int Seed { get; init; }
    public int Oversampling { get; init; } = 16;
    public int PowerIterations { get; init; } = 2;

    /// <summary>Whiten the LSA vectors (on by default); off leaves plain LSA, e.g. to whiten separately.</summary>
    public bool Whiten { get; init; } = true;
    public LexicalFeatureSettings Features { get; init; } = new();
}

/// <summary>What a fit did: sizes, the dimension actually used (capped for small corpora) and the time per stage.</summary>
public sealed record DefaultEncoderFitReport(int Lines, int Vocabulary, long NonZeros, int RequestedDimension, int Dimension,
    double ExplainedVariance, TimeSpan Features, TimeSpan Svd, TimeSpan Whitening, TimeSpan Total);

public static class DefaultEncoder
{
    public const string ModelType = "semblance-lsa";
    public const int FormatVersion = 1;
    public const string VocabularyFile = "vocab.json";
    public const string WeightsFile = "model.safetensors";

    /// <summary>
    /// Fits on <paramref name="corpus"/> and saves a model directory. The dimension is capped at n/4 (and at the
    /// vocabulary size) because whitening K directions needs clearly more than K sentences to estimate their variance.
    /// </summary>
    public static DefaultEncoderFitReport Fit(IReadOnlyList<string> corpus, string outputDirectory, DefaultEncoderOptions options, string source = "corpus")
    {
        options.Features.Validate(source);
        if (options.Dimension < 1) throw new SemblanceException($"dims {options.Dimension} must be at least 1");
        var texts = corpus.Where(t => !string.IsNullOrWhiteSpace(t)).ToList();
        if (texts.Count < 8) throw new InputFormatException($"{source}: {texts.Count} non-empty lines; the default encoder needs at least 8 to fit on");
        if (File.Exists(outputDirectory)) throw new SemblanceException($"{outputDirectory}: is a file, expected a directory to write the model into");
        var total = Stopwatch.StartNew();
        var sw = Stopwatch.StartNew();
        var featurizer = new LexicalFeatures(options.Features);
        var tfidf = TfIdf.Fit(texts, featurizer, options.MinDf, options.MaxFeatures);
        if (tfidf.Features.Count < 2)
            throw new InputFormatException($"{source}: only {tfidf.Features.Count} feature(s) occur in at least {options.MinDf} lines; give more text or a lower min_df");
        var x = tfidf.Transform(texts);
        var featureTime = sw.Elapsed;

        sw.Restart();
        int k = Math.Min(options.Dimension, Math.Min(tfidf.Features.Count - 1, texts.Count / 4));
        k = Math.Max(k, 1);
        var svd = RandomizedSvd.Fit(x, k, options.Oversampling, options.PowerIterations, options.Seed);
        k = svd.Rank;
        var svdTime = sw.Elapsed;

        sw.Restart();
        Whitening? whitening = null;
        if (options.Whiten)
        {
            var acc = new WhiteningAccumulator(k, source);
            const int chunk = 4096;
            var z = new float[chunk * k];
            for (int r0 = 0; r0 < x.Rows; r0 += chunk)
            {
                int rows = Math.Min(chunk, x.Rows - r0);
                Project(x, r0, rows, svd.RightVectors, k, z);
                acc.Add(z.AsSpan(0, rows * k), rows);
            }
            whitening = acc.Fit(k);
        }
        var whiteningTime = sw.Elapsed;

        Directory.CreateDirectory(outputDirectory);
        var w = new SafeTensorsWriter();
        w.Metadata["format"] = ModelType;
        w.Metadata["format_version"] = FormatVersion.ToString(CultureInfo.InvariantCulture);
        w.Add("idf", [tfidf.Features.Count], tfidf.Idf);
        w.Add("projection", [tfidf.Features.Count, k], svd.RightVectors);
        w.Add("singular_values", [k], svd.SingularValues.Select(s => (float)s).ToArray());
        if (whitening is not null)
        {
            w.Add("whitening.mean", [k], whitening.Mean);
            w.Add("whitening.kernel", [k, k], whitening.Kernel);
        }
        w.Save(Path.Combine(outputDirectory, WeightsFile));
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, VocabularyFile),
            JsonSerializer.Serialize(new JsonObject { ["features"] = new JsonArray(tfidf.Features.Select(f => (JsonNode)f!).ToArray()) }) + "\n");
        var config = new JsonObject
        {
            ["model_type"] = ModelType,
            ["format_version"] = FormatVersion,
            ["dims"] = k,
            ["vocab_size"] = tfidf.Features.Count,
            ["features"] = new JsonObject
            {
                ["normalization"] = "NFKC+lowercase",
                ["cjk_min_n"] = options.Features.CjkMinN,
                ["cjk_max_n"] = options.Features.CjkMaxN,
                ["subword_min_n"] = options.Features.SubwordMinN,
                ["subword_max_n"] = options.Features.SubwordMaxN,
            },
            ["tfidf"] = "sublinear_tf+smooth_idf+l2",
            ["min_df"] = options.MinDf,
            ["max_features"] = options.MaxFeatures,
            ["svd"] = new JsonObject { ["seed"] = options.Seed, ["oversampling"] = options.Oversampling, ["power_iterations"] = options.PowerIterations },
            ["corpus_lines"] = texts.Count,
            ["whiten"] = whitening is not null,
            ["normalize"] = true,
        };
        // config.json last: a directory whose write was interrupted has no config and is refused as a model.
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return new DefaultEncoderFitReport(texts.Count, tfidf.Features.Count, x.NonZeros, options.Dimension, k, whitening?.ExplainedVariance ?? double.NaN,
            featureTime, svdTime, whiteningTime, total.Elapsed);
    }

    /// <summary>Rows [r0, r0 + rows) of X times P [V, k] into <paramref name="output"/>.</summary>
    internal static void Project(SparseRows x, int r0, int rows, float[] projection, int k, Span<float> output)
    {
        for (int i = 0; i < rows; i++)
        {
            var o = output.Slice(i * k, k);
            o.Clear();
            for (int p = x.RowStart[r0 + i]; p < x.RowStart[r0 + i + 1]; p++)
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(projection, x.Columns[p] * k, k), x.Values[p], o, o);
        }
    }

    public static IEmbeddingBackend Open(string modelDirectory, EncoderOptions options) => LsaBackend.Load(modelDirectory, options);
}

/// <summary>Runs a saved default encoder: featurise, TF-IDF, project, whiten.</summary>
public sealed class LsaBackend : IEmbeddingBackend
{
    public const string PoolingName = "lsa";

    private readonly TfIdf _tfidf;
    private readonly float[] _projection;
    private readonly Whitening? _whitening;
    private readonly string _directory;

    private LsaBackend(string directory, TfIdf tfidf, float[] projection, int dimension, Whitening? whitening)
    {
        _directory = directory;
        _tfidf = tfidf;
        _projection = projection;
        Dimension = dimension;
        _whitening = whitening;
    }

    public string ModelType => DefaultEncoder.ModelType;

    public int Dimension { get; }

    public string Pooling => PoolingName;

    public bool NormalizeByDefault => true;

    public int MaxLength => 0;

    public int VocabularySize => _tfidf.Features.Count;

    /// <summary>The model's TF-IDF stage (vocabulary, idf, features), e.g. for the no-SVD baseline.</summary>
    public TfIdf TfIdf => _tfidf;

    public static LsaBackend Load(string directory, EncoderOptions options)
    {
        if (options.Pooling is not null && options.Pooling != PoolingName)
            throw new SemblanceException($"--pooling {options.Pooling}: a {DefaultEncoder.ModelType} model has one fixed pooling ({PoolingName}); omit --pooling or pass {PoolingName}");
        var configPath = Path.Combine(directory, "config.json");
        JsonNode config;
        try
        {
            config = JsonNode.Parse(File.ReadAllText(configPath)) ?? throw new ModelFormatException($"{configPath}: empty JSON");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{configPath}: malformed JSON ({e.Message})");
        }
        int version = Int(config, "format_version", configPath);
        if (version != DefaultEncoder.FormatVersion)
            throw new ModelFormatException($"{configPath}: format_version {version} is not supported (expected {DefaultEncoder.FormatVersion})");
        int dims = Int(config, "dims", configPath);
        var f = config["features"] ?? throw new ModelFormatException($"{configPath}: missing object 'features'");
        var settings = new LexicalFeatureSettings
        {
            CjkMinN = Int(f, "cjk_min_n", configPath),
            CjkMaxN = Int(f, "cjk_max_n", configPath),
            SubwordMinN = Int(f, "subword_min_n", configPath),
            SubwordMaxN = Int(f, "subword_max_n", configPath),
        };
        settings.Validate(configPath);

        var vocabPath = Path.Combine(directory, DefaultEncoder.VocabularyFile);
        if (!File.Exists(vocabPath)) throw new ModelFormatException($"{vocabPath}: not found (a {DefaultEncoder.ModelType} model needs its vocabulary)");
        string[] features;
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(vocabPath))?["features"] as JsonArray
                ?? throw new ModelFormatException($"{vocabPath}: expected {{\"features\": [strings]}}");
            features = node.Select(n => n?.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : throw new ModelFormatException($"{vocabPath}: every feature must be a string")).ToArray();
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{vocabPath}: malformed JSON ({e.Message})");
        }

        var st = SafeTensorsContent.Read(Path.Combine(directory, DefaultEncoder.WeightsFile));
        int v = features.Length;
        var idf = st.Get("idf", v);
        var projection = st.Get("projection", v, dims);
        bool whiten = config["whiten"] is { } wn && wn.GetValueKind() == JsonValueKind.True;
        var whitening = whiten ? new Whitening(st.Get("whitening.mean", dims), st.Get("whitening.kernel", dims, dims), dims, 0, double.NaN) : null;
        return new LsaBackend(directory, new TfIdf(features, idf, new LexicalFeatures(settings)), projection, dims, whitening);
    }

    private static int Int(JsonNode node, string name, string path)
    {
        var n = node[name];
        if (n is null || n.GetValueKind() != JsonValueKind.Number || !int.TryParse(n.ToJsonString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
            throw new ModelFormatException($"{path}: missing integer field '{name}'");
        return v;
    }

    public long Embed(IReadOnlyList<string> texts, Span<float> output, CancellationToken cancellationToken = default)
    {
        int k = Dimension;
        if (output.Length != (long)texts.Count * Dimension) throw new ArgumentException($"output has {output.Length} floats, expected {texts.Count}x{Dimension}");
        cancellationToken.ThrowIfCancellationRequested();
        var x = _tfidf.Transform(texts);
        if (_whitening is null)
        {
            DefaultEncoder.Project(x, 0, texts.Count, _projection, k, output);
            return x.NonZeros;
        }
        var z = new float[(long)texts.Count * k];
        DefaultEncoder.Project(x, 0, texts.Count, _projection, k, z);
        _whitening.Apply(z, output, texts.Count);
        return x.NonZeros;
    }

    public IReadOnlyList<KeyValuePair<string, string>> Describe() =>
    [
        new("architecture", _whitening is null ? "TF-IDF → randomized SVD (LSA)" : "TF-IDF → randomized SVD (LSA) → whitening"),
        new("directory", _directory),
        new("vocabulary", VocabularySize.ToString(CultureInfo.InvariantCulture)),
        new("dimension", Dimension.ToString(CultureInfo.InvariantCulture)),
        new("features", $"cjk {_tfidf.Featurizer.Settings.CjkMinN}-{_tfidf.Featurizer.Settings.CjkMaxN} char grams; words + {_tfidf.Featurizer.Settings.SubwordMinN}-{_tfidf.Featurizer.Settings.SubwordMaxN} char subwords"),
    ];

    public void Dispose() { }
}
