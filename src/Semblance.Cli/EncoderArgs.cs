// The encoder options shared by every command that loads a model (--model, --pooling, --batch-size, ...).
using Semblance.Embeddings;
using Semblance.Models;

namespace Semblance.Cli;

internal static class EncoderArgs
{
    public static readonly OptionSpec Model = new("--model", "DIR|ID", "model directory (Hugging Face or Semblance layout) or Hugging Face id ORG/NAME[@REV]");
    public static readonly OptionSpec Pooling = new("--pooling", "P", "cls|mean|first-last-avg|last-avg|max|pooler|pooler-linear (pooler: tanh(dense(CLS)) as Hugging Face; pooler-linear: dense(CLS), no tanh) (default: the pooling `train` recorded, else the directory's sentence-transformers config, else mean)");
    public static readonly OptionSpec Normalize = new("--normalize", null, "L2-normalise vectors (default: as the directory says)");
    public static readonly OptionSpec MaxLength = new("--max-length", "N", "tokens per sequence incl. [CLS]/[SEP]; longer lines are truncated (default: max_position_embeddings, at most 512)");
    public static readonly OptionSpec BatchSize = new("--batch-size", "N", "sentences per batch (default 32)");
    public static readonly OptionSpec Threads = new("--threads", "N", "worker threads (default: all cores)");

    public static readonly OptionSpec PromptName = new("--prompt-name", "NAME", "prepend the model's prompt NAME (e.g. query) to every input (default: the model's default prompt, usually none)");
    public static readonly OptionSpec Prompt = new("--prompt", "TEXT", "prepend TEXT to every input (wins over --prompt-name)");

    public static readonly OptionSpec AllowNonFinite = new("--allow-nonfinite", null, "load weights/whitening holding NaN or Inf (refused by default); a non-finite embedding is still an error");

    public static readonly OptionSpec AttentionScale = new("--attention-scale", "default|entropy", "entropy: multiply the attention logits of a sequence of n > --train-length tokens by log n / log N (default: default, plain attention)");
    public static readonly OptionSpec TrainLength = new("--train-length", "N", "with --attention-scale entropy: the length N the model was trained at (e.g. 128 for all-MiniLM-L6-v2)");
    public static readonly OptionSpec Precision = new("--precision", "int8|fp32|fp16|bf16", "encoder Linear weights: int8 (per-channel int8 weights, per-row int8 activations), fp32, or fp16/bf16 (kept in 16 bits, float32 arithmetic) (default: the model directory's semblance_config.json, else the checkpoint's F16/BF16 storage, else fp32)");

    public static IReadOnlyList<OptionSpec> Common { get; } = [Model, Pooling, Normalize, MaxLength, BatchSize, Threads, PromptName, Prompt, AllowNonFinite];

    public static EncoderOptions Options(CommandArgs a) => new()
    {
        Pooling = a.Get("--pooling"),
        Normalize = a.Has("--normalize") ? true : null,
        MaxLength = a.GetInt("--max-length", 0, 0, 1 << 20),
        BatchSize = a.GetInt("--batch-size", 32, 1, 1 << 16),
        Threads = a.GetInt("--threads", Environment.ProcessorCount, 1, 1024),
        PromptName = a.Get("--prompt-name"),
        Prompt = a.Get("--prompt"),
        AllowNonFinite = a.Has("--allow-nonfinite"),
        EntropyScaleTrainLength = EntropyTrainLength(a),
        Precision = a.Get("--precision") is { } precision ? WeightPrecisions.Parse(precision, "--precision") : null,
    };

    private static int EntropyTrainLength(CommandArgs a)
    {
        bool entropy = a.Choice("--attention-scale", "default", "default", "entropy") == "entropy";
        if (entropy != a.Has("--train-length")) throw new UsageException("--attention-scale entropy and --train-length N go together");
        return entropy ? a.GetInt("--train-length", 0, 2, 1 << 20) : 0;
    }

    public static SentenceEncoder Load(CommandArgs a) => SentenceEncoder.Load(a.Require("--model"), Options(a));
}
