// Sentence vectors from token vectors: CLS, mean, BERT-whitening's first-last-avg / last-avg, max, BERT pooler.
using System.Numerics.Tensors;
using System.Text.Json;
using Semblance.Models;

namespace Semblance.Embeddings;

/// <summary>
/// How a sequence's token vectors h_t (t over its real tokens, [CLS] and [SEP] included) become one vector.
/// </summary>
public enum PoolingMode
{
    /// <summary>h_last[0], the raw [CLS] vector (no pooler dense).</summary>
    Cls,

    /// <summary>Σ_t h_last[t] / T (sentence-transformers' mean pooling).</summary>
    Mean,

    /// <summary>Σ_t (h_1[t] + h_last[t]) / 2 / T, h_1 the first transformer layer's output (BERT-whitening, Su et al. 2021).</summary>
    FirstLastAvg,

    /// <summary>BERT-whitening's name for <see cref="Mean"/>; identical values.</summary>
    LastAvg,

    /// <summary>Element-wise max over t of h_last[t].</summary>
    Max,

    /// <summary>BERT's pooler output tanh(W·h_last[0] + b) (Hugging Face's pooler_output); only models with a pooler layer.</summary>
    Pooler,

    /// <summary>The pooler's dense layer without tanh, W·h_last[0] + b (SimBERT / RoFormer-Sim's linear pooler).</summary>
    PoolerLinear,
}

public static class Pooling
{
    private static readonly (PoolingMode Mode, string Name)[] Names =
    [
        (PoolingMode.Cls, "cls"),
        (PoolingMode.Mean, "mean"),
        (PoolingMode.FirstLastAvg, "first-last-avg"),
        (PoolingMode.LastAvg, "last-avg"),
        (PoolingMode.Max, "max"),
        (PoolingMode.Pooler, "pooler"),
        (PoolingMode.PoolerLinear, "pooler-linear"),
    ];

    public static string CliNames => string.Join("|", Names.Select(n => n.Name));

    /// <summary>Parses a CLI name (cls|mean|first-last-avg|last-avg|max|pooler|pooler-linear); <paramref name="source"/> names the option.</summary>
    public static PoolingMode Parse(string name, string source = "--pooling")
    {
        foreach (var (mode, cliName) in Names)
            if (string.Equals(name, cliName, StringComparison.OrdinalIgnoreCase)) return mode;
        throw new SemblanceException($"{source}: unknown pooling mode '{name}'; expected one of {CliNames}");
    }

    public static string Format(PoolingMode mode)
    {
        foreach (var (m, cliName) in Names)
            if (m == mode) return cliName;
        throw new ArgumentOutOfRangeException(nameof(mode), mode, null);
    }

    /// <summary>What <see cref="Pool"/> needs the forward pass to keep.</summary>
    public static ForwardRequest RequestFor(PoolingMode mode) => mode switch
    {
        PoolingMode.FirstLastAvg => new ForwardRequest(FirstLayer: true),
        PoolingMode.Pooler => new ForwardRequest(Pooler: true),
        PoolingMode.PoolerLinear => new ForwardRequest(Pooler: true, LinearPooler: true),
        _ => ForwardRequest.LastOnly,
    };

    /// <summary>Whether <paramref name="mode"/> reads the model's pooler layer (pooler or pooler-linear).</summary>
    public static bool UsesPoolerLayer(PoolingMode mode) => mode is PoolingMode.Pooler or PoolingMode.PoolerLinear;

    /// <summary>Fails early, at load time, when <paramref name="mode"/> cannot work with <paramref name="model"/>.</summary>
    public static void EnsureSupported(PoolingMode mode, ITransformer model)
    {
        if (UsesPoolerLayer(mode) && !model.HasPooler)
            throw new SemblanceException(NoPoolerMessage(model.ModelType, mode));
    }

    private static string NoPoolerMessage(string modelType, PoolingMode mode) =>
        $"pooling mode '{Format(mode)}' needs a pooler layer (pooler.dense.weight), which this {modelType} model does not have; use cls, mean, first-last-avg, last-avg or max";

    /// <summary>
    /// Reads sentence-transformers' <c>1_Pooling/config.json</c>. Exactly one of pooling_mode_cls_token,
    /// pooling_mode_mean_tokens and pooling_mode_max_tokens may be set; the other modes (mean_sqrt_len,
    /// weightedmean, lasttoken) and combinations are not supported. <paramref name="hiddenSize"/>, when given,
    /// must equal word_embedding_dimension.
    /// </summary>
    public static PoolingMode LoadSentenceTransformersConfig(string path, int? hiddenSize = null)
    {
        using (var doc = Models.ModelFiles.ReadJson(path, "expected sentence-transformers' pooling config"))
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException($"{path}: expected a JSON object with pooling_mode_* flags");

            bool Flag(string name)
            {
                if (!IO.StrictJson.TryGet(root, name, out var v) || v.ValueKind == JsonValueKind.Null) return false;
                return v.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw new ModelFormatException($"{path}: {name} must be true or false, got {v.GetRawText()}"),
                };
            }

            foreach (var unsupported in new[] { "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken" })
                if (Flag(unsupported))
                    throw new ModelFormatException($"{path}: {unsupported} is not supported; supported: pooling_mode_cls_token, pooling_mode_mean_tokens, pooling_mode_max_tokens");

            var set = new List<(string Flag, PoolingMode Mode)>();
            if (Flag("pooling_mode_cls_token")) set.Add(("pooling_mode_cls_token", PoolingMode.Cls));
            if (Flag("pooling_mode_mean_tokens")) set.Add(("pooling_mode_mean_tokens", PoolingMode.Mean));
            if (Flag("pooling_mode_max_tokens")) set.Add(("pooling_mode_max_tokens", PoolingMode.Max));
            if (set.Count == 0)
                throw new ModelFormatException($"{path}: no pooling mode is set; expected one of pooling_mode_cls_token, pooling_mode_mean_tokens, pooling_mode_max_tokens to be true");
            if (set.Count > 1)
                throw new ModelFormatException($"{path}: {string.Join(" and ", set.Select(s => s.Flag))} are all set; concatenated pooling is not supported, expected exactly one");

            if (hiddenSize is int h && IO.StrictJson.TryGet(root, "word_embedding_dimension", out var dim) && dim.ValueKind != JsonValueKind.Null)
            {
                if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt32(out int d))
                    throw new ModelFormatException($"{path}: word_embedding_dimension must be an integer, got {dim.GetRawText()}");
                if (d != h)
                    throw new ModelFormatException($"{path}: word_embedding_dimension is {d}, but the model's hidden_size is {h}");
            }
            return set[0].Mode;
        }
    }

    /// <summary>
    /// Writes one [HiddenSize] vector per sequence of <paramref name="batch"/> into <paramref name="destination"/>
    /// ([BatchSize, HiddenSize] row-major). <paramref name="output"/> must come from a forward pass of that batch
    /// run with <see cref="RequestFor"/>(<paramref name="mode"/>).
    /// </summary>
    public static void Pool(ITransformerOutput output, TokenBatch batch, PoolingMode mode, Span<float> destination)
    {
        int h = output.HiddenSize;
        if (destination.Length < batch.BatchSize * h)
            throw new ArgumentException($"destination holds {destination.Length} floats, {batch.BatchSize} x {h} needed", nameof(destination));
        if (UsesPoolerLayer(mode))
        {
            var pooled = output.PoolerOutput;
            if (pooled.IsEmpty) throw new SemblanceException(NoPoolerMessage("encoder", mode));
            pooled[..(batch.BatchSize * h)].CopyTo(destination);
            return;
        }
        var first = mode == PoolingMode.FirstLastAvg ? output.HiddenState(1) : default;
        PoolRows(mode, first, output.LastHiddenState, batch.Offsets, h, destination);
    }

    /// <summary>
    /// The pooling of token rows, the one definition both the inference path (<see cref="Pool"/>) and the training
    /// tape (<c>Tape.Pool</c>) run: <paramref name="last"/> (and <paramref name="first"/>, layer 1, for
    /// first-last-avg) hold [tokens, h] rows packed by <paramref name="offsets"/> ([sequences + 1], first 0).
    /// </summary>
    public static void PoolRows(PoolingMode mode, ReadOnlySpan<float> first, ReadOnlySpan<float> last, ReadOnlySpan<int> offsets, int h, Span<float> destination)
    {
        int sequences = offsets.Length - 1;
        for (int b = 0; b < sequences; b++)
            if (offsets[b + 1] == offsets[b]) throw new ArgumentException($"sequence {b} is empty", nameof(offsets));
        for (int b = 0; b < sequences; b++)
        {
            var dst = destination.Slice(b * h, h);
            int start = offsets[b], length = offsets[b + 1] - start;
            switch (mode)
            {
                case PoolingMode.Cls:
                    last.Slice(start * h, h).CopyTo(dst);
                    break;
                case PoolingMode.Mean:
                case PoolingMode.LastAvg:
                    last.Slice(start * h, h).CopyTo(dst);
                    for (int t = 1; t < length; t++) TensorPrimitives.Add(dst, last.Slice((start + t) * h, h), dst);
                    TensorPrimitives.Divide(dst, length, dst);
                    break;
                case PoolingMode.FirstLastAvg:
                    dst.Clear();
                    for (int t = 0; t < length; t++)
                    {
                        int row = (start + t) * h;
                        TensorPrimitives.Add(dst, first.Slice(row, h), dst);
                        TensorPrimitives.Add(dst, last.Slice(row, h), dst);
                    }
                    TensorPrimitives.Divide(dst, 2f * length, dst);
                    break;
                case PoolingMode.Max:
                    last.Slice(start * h, h).CopyTo(dst);
                    for (int t = 1; t < length; t++) TensorPrimitives.Max(dst, last.Slice((start + t) * h, h), dst);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(mode), mode, "pooler output is a layer of the model, not a pooling of token rows");
            }
        }
    }
}
