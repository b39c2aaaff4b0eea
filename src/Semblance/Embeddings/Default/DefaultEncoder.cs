// The default encoder ("semblance-lsa"), fitted on the user's own text so nothing is downloaded:
//   features (LexicalFeatures) → sublinear TF-IDF, L2-normalised (TfIdf) → x
//   u = Vᵀ x  (top-k LSA basis, RandomizedSvd),   r = H (x − V u) = H x − (H V) u  (SignedHashProjection of the residual)
//   v(x) = [ w ⊙ u ; r ] / ‖·‖   (w: SpectralLsa.BoostWeights)
// Because x = V u + (x − V u) splits into orthogonal parts, v·v' ≈ u·u' + r·r' + β·(LSA similarity) = TF-IDF cosine
// + β·(LSA similarity): exact on the LSA subspace, hashed (unbiased, noise ∝ the residual only) elsewhere. Plain LSA
// loses to TF-IDF on STS because truncation discards the rare lexical detail; here nothing is discarded, LSA only adds.
// Knobs: dims (total), lsa_dims k (the rest D = dims − k is hashed), boost β, exponent p, drop-top m, term weighting,
// min_df/max_features, seed (SVD and hash).
using Semblance.Models;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Semblance.IO;

namespace Semblance.Embeddings.Default;

public sealed record DefaultEncoderOptions
{
    /// <summary>Total output dimension: LSA dims + hashed residual dims.</summary>
    public int Dimension { get; init; } = 1024;

    /// <summary>Requested LSA dimension k (capped at lines/4 and the vocabulary; 0 = hashed TF-IDF only).</summary>
    public int LsaDimension { get; init; } = 512;

    /// <summary>β: weight of the LSA similarity added to the TF-IDF one (0 = the dense vector only approximates TF-IDF).</summary>
    public double Boost { get; init; } = 0.05;

    /// <summary>p in (σ_m/σ_j)^(2(1−p)): 1 = plain LSA weighting, 0 = every direction weighted equally.</summary>
    public double SpectralExponent { get; init; }

    /// <summary>m: the largest LSA directions that get no boost (all-but-the-top).</summary>
    public int DropTop { get; init; } = 2;

    public int HashEntries { get; init; } = 4;

    public TermWeighting Weighting { get; init; } = TermWeighting.Sif;

    public int MinDf { get; init; } = 2;
    public int MaxFeatures { get; init; } = 32768;
    public int Seed { get; init; }
    public int Oversampling { get; init; } = 16;
    public int PowerIterations { get; init; } = 1;
    public LexicalFeatureSettings Features { get; init; } = new();

    internal void Validate()
    {
        if (Dimension < 2) throw new SemblanceException($"dims {Dimension} must be at least 2");
        if (LsaDimension < 0 || LsaDimension >= Dimension)
            throw new SemblanceException($"lsa dims {LsaDimension} must be in 0..{Dimension - 1} (dims {Dimension} minus at least one hashed dimension)");
        if (!(Boost >= 0 && Boost <= 100)) throw new SemblanceException($"boost {Boost} must be in [0, 100]");
        if (!(SpectralExponent >= 0 && SpectralExponent <= 1)) throw new SemblanceException($"spectral exponent {SpectralExponent} must be in [0, 1]");
        if (DropTop < 0) throw new SemblanceException($"drop-top {DropTop} must be non-negative");
        if (HashEntries < 1) throw new SemblanceException($"hash entries {HashEntries} must be at least 1");
        if (MinDf < 1) throw new SemblanceException($"min_df {MinDf} must be at least 1");
    }
}

/// <summary>What a fit did: sizes, the dimensions actually used (LSA capped for small corpora) and the time per stage.</summary>
public sealed record DefaultEncoderFitReport(int Lines, int Vocabulary, long NonZeros, int Dimension, int RequestedLsaDimension, int LsaDimension,
    int HashDimension, TimeSpan Features, TimeSpan Svd, TimeSpan Total);

public static class DefaultEncoder
{
    public const string ModelType = "semblance-lsa";
    public const int FormatVersion = 2;
    public const string VocabularyFile = "vocab.json";
    public const string WeightsFile = "model.safetensors";

    /// <summary>
    /// The ownership rule for the output directory (<see cref="OutputDirectory"/>): new, empty, or a model directory
    /// Semblance wrote (replaced only when <paramref name="replace"/>); <paramref name="checkOnly"/> creates nothing.
    /// </summary>
    public static void ClaimOutput(string outputDirectory, bool replace, bool checkOnly = false)
    {
        const string hint = "pass --force to replace it, or choose a new directory";
        if (checkOnly) OutputDirectory.Check(outputDirectory, OutputDirectory.ModelKind, replace, hint, IsFittedHere);
        else OutputDirectory.Claim(outputDirectory, OutputDirectory.ModelKind, replace, hint, IsFittedHere);
    }

    /// <summary>A directory fitted before markers existed: its config.json names this model type.</summary>
    private static bool IsFittedHere(string directory)
    {
        var config = Path.Combine(directory, TransformerLoader.ConfigFileName);
        return File.Exists(config) && new FileInfo(config).Length < 1 << 20 && File.ReadAllText(config).Contains($"\"{ModelType}\"", StringComparison.Ordinal);
    }

    /// <summary>
    /// Fits on <paramref name="corpus"/> and saves a model directory. The SVD rank is capped at n/4 (and below the
    /// vocabulary size): the trailing directions of a small corpus are noise that the boost would amplify. Dimensions
    /// the cap takes from LSA go to the hash, so the output dimension is always <see cref="DefaultEncoderOptions.Dimension"/>.
    /// </summary>
    public static DefaultEncoderFitReport Fit(IReadOnlyList<string> corpus, string outputDirectory, DefaultEncoderOptions options, string source = "corpus")
    {
        options.Features.Validate(source);
        options.Validate();
        var texts = corpus.Where(t => !string.IsNullOrWhiteSpace(t)).ToList();
        if (texts.Count < 8) throw new InputFormatException($"{source}: {texts.Count} non-empty lines; the default encoder needs at least 8 to fit on");
        if (File.Exists(outputDirectory)) throw new SemblanceException($"{outputDirectory}: is a file, expected a directory to write the model into");
        var total = Stopwatch.StartNew();
        var sw = Stopwatch.StartNew();
        var featurizer = new LexicalFeatures(options.Features);
        var tfidf = TfIdf.Fit(texts, featurizer, options.MinDf, options.MaxFeatures, options.Weighting);
        if (tfidf.Features.Count < 2)
            throw new InputFormatException($"{source}: only {tfidf.Features.Count} feature(s) occur in at least {options.MinDf} lines; give more text or a lower min_df");
        var x = tfidf.Transform(texts);
        var featureTime = sw.Elapsed;

        sw.Restart();
        SpectralLsa? lsa = null;
        double[] sigma = [];
        int rank = Math.Min(options.LsaDimension, Math.Min(tfidf.Features.Count - 1, texts.Count / 4));
        if (rank > 0)
        {
            var svd = RandomizedSvd.Fit(x, rank, options.Oversampling, options.PowerIterations, options.Seed);
            sigma = svd.SingularValues;
            lsa = new SpectralLsa(svd.RightVectors, SpectralLsa.BoostWeights(sigma, options.Boost, options.SpectralExponent, options.DropTop));
        }
        var svdTime = sw.Elapsed;
        int lsaDims = lsa?.Dimension ?? 0;
        int hashDims = options.Dimension - lsaDims;

        ClaimOutput(outputDirectory, replace: true);
        var w = new SafeTensorsWriter();
        w.Metadata["format"] = ModelType;
        w.Metadata["format_version"] = FormatVersion.ToString(CultureInfo.InvariantCulture);
        w.Add("term_weights", [tfidf.Features.Count], tfidf.Idf);
        if (lsa is not null)
        {
            w.Add("lsa.basis", [tfidf.Features.Count, lsaDims], lsa.Basis);
            w.Add("lsa.weights", [lsaDims], lsa.Weights);
            w.Add("lsa.singular_values", [lsaDims], sigma.Select(s => (float)s).ToArray());
        }
        w.Save(Path.Combine(outputDirectory, WeightsFile));
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, VocabularyFile),
            JsonSerializer.Serialize(new JsonObject { ["features"] = new JsonArray(tfidf.Features.Select(f => (JsonNode)f!).ToArray()) }) + "\n");
        var config = new JsonObject
        {
            ["model_type"] = ModelType,
            ["format_version"] = FormatVersion,
            ["dims"] = options.Dimension,
            ["vocab_size"] = tfidf.Features.Count,
            ["features"] = new JsonObject
            {
                ["normalization"] = "NFKC+lowercase",
                ["cjk_min_n"] = options.Features.CjkMinN,
                ["cjk_max_n"] = options.Features.CjkMaxN,
                ["subword_min_n"] = options.Features.SubwordMinN,
                ["subword_max_n"] = options.Features.SubwordMaxN,
            },
            ["tfidf"] = new JsonObject
            {
                ["tf"] = "sublinear",
                ["weighting"] = options.Weighting == TermWeighting.Sif ? "sif" : "idf",
                ["min_df"] = options.MinDf,
                ["max_features"] = options.MaxFeatures,
            },
            ["lsa"] = new JsonObject
            {
                ["dims"] = lsaDims,
                ["boost"] = options.Boost,
                ["spectral_exponent"] = options.SpectralExponent,
                ["drop_top"] = options.DropTop,
                ["svd"] = new JsonObject { ["seed"] = options.Seed, ["oversampling"] = options.Oversampling, ["power_iterations"] = options.PowerIterations },
            },
            // A tiny hash cannot give a feature more distinct entries than it has buckets.
            ["hash"] = new JsonObject { ["dims"] = hashDims, ["entries_per_feature"] = Math.Min(options.HashEntries, hashDims), ["seed"] = options.Seed },
            ["corpus_lines"] = texts.Count,
            ["normalize"] = true,
        };
        // config.json last: a directory whose write was interrupted has no config and is refused as a model.
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return new DefaultEncoderFitReport(texts.Count, tfidf.Features.Count, x.NonZeros, options.Dimension, options.LsaDimension, lsaDims, hashDims,
            featureTime, svdTime, total.Elapsed);
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
