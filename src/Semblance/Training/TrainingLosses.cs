// The losses `semblance train`, `bench train` and the Trainer know, each named once with its data format.
namespace Semblance.Training;

/// <summary>How the lines of a training file are read into rows (see <see cref="TrainingData"/>).</summary>
public enum TrainingFormat
{
    /// <summary>One sentence per line; each row is the sentence twice, the two passes differing by dropout.</summary>
    Sentences,

    /// <summary>anchor&lt;TAB&gt;positive[&lt;TAB&gt;hard negative], every line the same arity.</summary>
    Pairs,

    /// <summary>sentence1&lt;TAB&gt;sentence2&lt;TAB&gt;score with the score in [0, 5]; the scores reach the loss.</summary>
    ScoredPairs,

    /// <summary>text&lt;TAB&gt;group; rows are same-group pairs drawn per epoch.</summary>
    Groups,

    /// <summary>text&lt;TAB&gt;group; one row per text, its class (the group's index in order of first appearance) passed as its score.</summary>
    Classes,

    /// <summary>text&lt;TAB&gt;text_pair&lt;TAB&gt;label: one pair per line, scored as one sequence (pair-score task).</summary>
    LabelledPairs,
}

/// <summary>What `semblance train` trains: a sentence encoder (bi-encoder) or an interaction model scoring pairs (cross-encoder).</summary>
public enum TrainingTask
{
    /// <summary>Texts encoded apart, compared by cosine; saved as the encoder checkpoint it started from.</summary>
    Embedding,

    /// <summary>Both texts in one sequence, logits out of a sequence-classification head; saved as *ForSequenceClassification.</summary>
    PairScore,
}

/// <summary>What a pair-score loss takes from the label column.</summary>
public enum PairTarget
{
    /// <summary>Any finite number; only the order matters (cosent).</summary>
    Ordinal,

    /// <summary>label / --max-score must lie in [0, 1] (bce: 0/1 or soft targets; mse: graded).</summary>
    UnitInterval,

    /// <summary>An integer class index below num_labels (ce).</summary>
    Class,
}

/// <summary>The hyper-parameters a loss may take (each loss reads the ones it names); Classes, Dimension and Seed size and seed a loss's own weights.</summary>
/// <remarks>A null <paramref name="Scale"/> means each loss's own default (CoSENT and AM-Softmax 20, SimBERT 30).</remarks>
public sealed record LossSettings(float Temperature = 0.05f, float Margin = 0.3f, float? Scale = null, SimCseBatch SimCseBatch = SimCseBatch.Views,
    int Classes = 0, int Dimension = 0, int Seed = 0);

/// <summary>How a pair-score label column becomes targets: divided by <paramref name="MaxScore"/> (bce, mse); class indices below <paramref name="NumLabels"/> (ce).</summary>
public sealed record PairLabels(double MaxScore = 1.0, int NumLabels = 1);

/// <summary>
/// A named loss: its data format, whether it relies on dropout for its positives, its factory, the pooling whose
/// vectors it trains (saved in the model's Pooling module), and whether it trains a masked-LM head as well.
/// </summary>
public sealed class TrainingLoss
{
    private readonly Func<LossSettings, EmbeddingLoss> _create;

    internal TrainingLoss(string name, TrainingFormat format, bool needsDropout, Func<LossSettings, EmbeddingLoss> create,
        Embeddings.PoolingMode pooling = Embeddings.PoolingMode.Mean, bool trainsMaskedLmHead = false,
        TrainingTask task = TrainingTask.Embedding, PairTarget target = PairTarget.Ordinal)
    {
        Task = task;
        Target = target;
        Name = name;
        Format = format;
        NeedsDropout = needsDropout;
        _create = create;
        Pooling = pooling;
        TrainsMaskedLmHead = trainsMaskedLmHead;
    }

    /// <summary>The name on the command line (<c>--loss</c>) and in trainer_state.json.</summary>
    public string Name { get; }

    public TrainingFormat Format { get; }

    /// <summary>
    /// SimCSE and FlatNCE make their positive by running each sentence twice through dropout; on an encoder without
    /// dropout both views would be equal and the loss would teach nothing.
    /// </summary>
    public bool NeedsDropout { get; }

    /// <summary>Whether each row's gold score is passed to the loss.</summary>
    public bool UsesScores => Format is TrainingFormat.ScoredPairs or TrainingFormat.Classes or TrainingFormat.LabelledPairs;

    public TrainingTask Task { get; }

    /// <summary>Pair-score losses: what the label column must hold.</summary>
    public PairTarget Target { get; }

    /// <summary>The sentence vector the loss shapes: mean pooling, or [CLS] for SimBERT.</summary>
    public Embeddings.PoolingMode Pooling { get; }

    /// <summary>SimBERT: the model carries a masked-LM head (initialised when the start checkpoint has none) and is saved as *ForMaskedLM.</summary>
    public bool TrainsMaskedLmHead { get; }

    internal EmbeddingLoss Create(LossSettings settings) => _create(settings);

    public override string ToString() => Name;
}

/// <summary>The registry of training losses.</summary>
public static class TrainingLosses
{
    public static TrainingLoss SimCse { get; } = new("simcse", TrainingFormat.Sentences, true, s => new SimCseLoss(s.Temperature, s.SimCseBatch));

    public static TrainingLoss SupervisedSimCse { get; } = new("sup-simcse", TrainingFormat.Pairs, false, s => new SimCseLoss(s.Temperature));

    public static TrainingLoss CoSent { get; } = new("cosent", TrainingFormat.ScoredPairs, false, s => new CoSentLoss(s.Scale ?? 20f));

    public static TrainingLoss AmSoftmax { get; } = new("am-softmax", TrainingFormat.Groups, false, s => new AmSoftmaxLoss(s.Margin, s.Scale ?? 20f));

    public static TrainingLoss FlatNce { get; } = new("flatnce", TrainingFormat.Sentences, true, s => new FlatNceLoss(s.Temperature));

    /// <summary>SimBERT: similar pairs, both directions; seq2seq cross-entropy under the UniLM mask + in-batch contrast of [CLS] vectors.</summary>
    public static TrainingLoss SimBert { get; } = new("simbert", TrainingFormat.Pairs, false, s => new SimBertLoss(s.Scale ?? 30f),
        Embeddings.PoolingMode.Cls, trainsMaskedLmHead: true);

    public static TrainingLoss AmSoftmaxProxy { get; } = new("am-softmax-proxy", TrainingFormat.Classes, false,
        s => new AmSoftmaxProxyLoss(s.Classes, s.Dimension, s.Seed, s.Margin, s.Scale ?? 30f));

    public static IReadOnlyList<TrainingLoss> All { get; } = [SimCse, SupervisedSimCse, CoSent, AmSoftmax, FlatNce, SimBert, AmSoftmaxProxy];

    public static IReadOnlyList<string> Names { get; } = All.Select(l => l.Name).ToArray();

    /// <summary>Pair-score CoSENT: the logits of the batch's pairs ranked as the gold scores rank them (scale λ = --scale).</summary>
    public static TrainingLoss PairCoSent { get; } = new("cosent", TrainingFormat.LabelledPairs, false, s => new PairCoSentLoss(s.Scale ?? 20f), task: TrainingTask.PairScore, target: PairTarget.Ordinal);

    public static TrainingLoss PairBce { get; } = new("bce", TrainingFormat.LabelledPairs, false, _ => new PairBceLoss(), task: TrainingTask.PairScore, target: PairTarget.UnitInterval);

    public static TrainingLoss PairMse { get; } = new("mse", TrainingFormat.LabelledPairs, false, _ => new PairMseLoss(), task: TrainingTask.PairScore, target: PairTarget.UnitInterval);

    public static TrainingLoss PairCrossEntropy { get; } = new("ce", TrainingFormat.LabelledPairs, false, _ => new PairCrossEntropyLoss(), task: TrainingTask.PairScore, target: PairTarget.Class);

    /// <summary>The pair-score (cross-encoder) losses.</summary>
    public static IReadOnlyList<TrainingLoss> PairScoring { get; } = [PairCoSent, PairBce, PairMse, PairCrossEntropy];

    public static IReadOnlyList<TrainingLoss> For(TrainingTask task) => task == TrainingTask.PairScore ? PairScoring : All;

    /// <summary>The CLI name of a task (--task).</summary>
    public static string TaskName(TrainingTask task) => task == TrainingTask.PairScore ? "pair-score" : "embedding";

    /// <summary>The loss called <paramref name="name"/> for <paramref name="task"/>; an unknown name is a one-line error listing the known ones.</summary>
    public static TrainingLoss Get(string name, TrainingTask task = TrainingTask.Embedding) =>
        For(task).FirstOrDefault(l => l.Name == name)
        ?? throw new SemblanceException($"--loss: unknown loss '{name}' for --task {TaskName(task)}; expected one of {string.Join("|", For(task).Select(l => l.Name))}");
}
