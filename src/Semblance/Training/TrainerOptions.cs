// Settings of one `semblance train` run (the CLI maps its options onto these one to one).
using Semblance.Embeddings;

namespace Semblance.Training;

public sealed record TrainerOptions
{
    public required TrainingLoss Loss { get; init; }

    /// <summary>The loss's task: a sentence encoder, or a cross-encoder scoring pairs.</summary>
    public TrainingTask Task => Loss.Task;

    /// <summary>Pair-score task: outputs of a fresh classification head (null = 1, or the checkpoint's head's num_labels).</summary>
    public int? NumLabels { get; init; }

    /// <summary>Pair-score bce/mse: the label column is divided by this to give a target in [0, 1].</summary>
    public double MaxScore { get; init; } = 1.0;

    public required string DataPath { get; init; }

    public required string OutputDir { get; init; }

    /// <summary>A Hugging Face BERT/RoFormer directory to fine-tune; or null with <see cref="InitConfig"/> and <see cref="VocabPath"/>.</summary>
    public string? ModelDir { get; init; }

    /// <summary>config.json of a model to train from scratch (random init).</summary>
    public string? InitConfig { get; init; }

    public string? VocabPath { get; init; }

    public int Epochs { get; init; } = 1;

    /// <summary>Rows per optimizer step: the contrastive batch (in-batch negatives) however it is chunked.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Chunks per batch for exact gradient accumulation (GradCache); 1 keeps one graph of the whole batch.</summary>
    public int Accumulate { get; init; } = 1;

    public double LearningRate { get; init; } = 5e-5;

    public int WarmupSteps { get; init; }

    public int MaxLength { get; init; } = 64;

    public float Temperature { get; init; } = 0.05f;

    public float Margin { get; init; } = 0.3f;

    /// <summary>CoSENT's, AM-Softmax's and SimBERT's scale s (the logits are s·cos); null = the loss's default.</summary>
    public float? Scale { get; init; }

    /// <summary>SimBERT / RoFormer-Sim: the share of source tokens masked or deleted (BART-style denoising); 0 = none.</summary>
    public double CorruptRate { get; init; }

    /// <summary>SimBERT / RoFormer-Sim: a sentence encoder whose vectors the [CLS] vector is distilled from (MSE); null = none.</summary>
    public string? TeacherModel { get; init; }

    /// <summary>Unsupervised SimCSE's similarity layout (B×B cross-view, or 2B×2B with duplicated sentences).</summary>
    public SimCseBatch SimCseBatch { get; init; } = SimCseBatch.Views;

    public LossSettings LossSettings => new(Temperature, Margin, Scale, SimCseBatch);

    /// <summary>How token vectors become the sentence vector the loss sees (and dev evaluation and the saved model use).</summary>
    public PoolingMode Pooling { get; init; } = PoolingMode.Mean;

    /// <summary>Overrides hidden_dropout_prob and attention_probs_dropout_prob of config.json for training; null keeps them.</summary>
    public double? Dropout { get; init; }

    /// <summary>What the learning rate does after the warm-up.</summary>
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Linear;

    public int Seed { get; init; } = 42;

    public string? EvalData { get; init; }

    /// <summary>Evaluate (and checkpoint) every this many steps; 0 = at the end of each epoch only.</summary>
    public int EvalEvery { get; init; }

    /// <summary>An earlier run's output directory to continue from (its last/ checkpoint).</summary>
    public string? ResumeDir { get; init; }

    /// <summary>
    /// Replace the model an earlier run left in <see cref="OutputDir"/>. Without it (or <see cref="ResumeDir"/>) an
    /// existing output is refused rather than silently overwritten; a directory Semblance did not write is always refused.
    /// </summary>
    public bool Force { get; init; }

    /// <summary>Load weights holding NaN/±Inf (refused by default); a non-finite loss still stops the run.</summary>
    public bool AllowNonFinite { get; init; }

    public double WeightDecay { get; init; } = 0.01;

    /// <summary>The token-embedding table's learning rate is this multiple of the schedule's (1 = the same rate).</summary>
    public double EmbeddingLearningRateScale { get; init; } = 1;

    /// <summary>
    /// Peak learning rate of the task head's own parameters (SimBERT's masked-LM head; a pair scorer's pooler and
    /// classifier; null = <see cref="LearningRate"/>), on the same schedule: a freshly initialised head starts random and
    /// needs larger steps than the encoder.
    /// </summary>
    public double? HeadLearningRate { get; init; }

    /// <summary>Global gradient-norm clipping threshold; 0 turns clipping off.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Stop (after checkpointing) once this many optimizer steps are done, as an interrupted run would.</summary>
    public long? StopAfterSteps { get; init; }
}
