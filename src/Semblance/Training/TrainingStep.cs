// One optimizer step of training — tokens, dropout keys, GradCache forward/backward, clip, AdamW — shared by the
// Trainer and `semblance bench train`, so the benchmark times exactly what training runs.
using System.Collections.Concurrent;
using System.Diagnostics;
using Semblance.Embeddings;
using Semblance.Numerics;
using Semblance.Text;
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>
/// The token ids of training sentences, computed once per distinct text and checked against the model's vocabulary.
/// Safe to call from several threads.
/// </summary>
public sealed class TrainingTokens(BertTokenizer tokenizer, int maxLength, int vocabSize)
{
    private readonly ConcurrentDictionary<string, TokenizedText> _cache = new(StringComparer.Ordinal);

    public int MaxLength => maxLength;

    public int[] Get(string text) => Tokenize(text).Ids;

    /// <summary>The ids of a pair as one sequence, <c>[CLS] text [SEP] text_pair [SEP]</c>, truncated longest-first.</summary>
    public int[] GetPair(string text, string textPair) => TokenizePair(text, textPair).Ids;

    public TokenizedText TokenizePair(string text, string textPair) => _cache.GetOrAdd(text + "\t" + textPair, _ =>
        Checked(tokenizer.EncodePair(text, textPair, maxLength), text));

    public TokenizedText Tokenize(string text) => _cache.GetOrAdd(text, t => Checked(tokenizer.Encode(t, maxLength), t));

    private TokenizedText Checked(TokenizedText encoded, string text)
    {
        foreach (int id in encoded.Ids)
            if (id >= vocabSize)
                throw new ModelFormatException($"token id {id} of '{text}' is outside the model's vocab_size {vocabSize}; the vocabulary does not match config.json");
        return encoded;
    }
}

/// <summary>
/// What one step did. <see cref="Updated"/> is false when the loss or the gradient norm is not finite: the weights are
/// then left as they were (the gradients are not cleared). Times: forward (embedding and loss), backward, optimizer
/// (clip and update); with GradCache chunks the re-embedding forward passes count as backward.
/// </summary>
public readonly record struct StepResult(double Loss, double GradientNorm, bool Updated, TimeSpan Forward, TimeSpan Backward, TimeSpan Optimizer);

/// <summary>
/// The training step: for a batch of rows, embed every column (dropout keyed by seed, step, column and row, so a
/// resumed or re-run step draws the same masks), compute the loss and its exact gradient (GradCache with
/// <c>accumulate</c> chunks), clip to <c>maxGradNorm</c> (0: no clipping) and apply AdamW at the given learning rate.
/// </summary>
internal sealed class TrainingStep
{
    private readonly ITrainableModel _model;
    private readonly TrainingLoss _loss;
    private readonly EmbeddingLoss _objective;
    private readonly Func<string, int[]> _tokens;
    private readonly Func<string, string, int[]>? _pairTokens;
    private readonly int _seed;
    private readonly int _accumulate;
    private readonly double _maxGradNorm;
    private readonly double _corruptRate;
    private readonly int _maskId;
    private readonly Func<IReadOnlyList<string>, float[]>? _teacher;
    private readonly PoolingMode _pooling;

    /// <param name="corruptRate">SimBERT only: the share of source tokens masked ([MASK] id <paramref name="maskId"/>) or deleted.</param>
    /// <param name="headLearningRateFactor">The task head's own parameters (<see cref="ITrainableModel.IsHeadParameter"/>:
    /// the masked-LM head's transform and output bias, whose tied decoder is the word embeddings and keeps the base rate;
    /// or a pair scorer's pooler and classifier) train at this multiple of the rate.</param>
    /// <param name="teacher">SimBERT only: a teacher's vectors of texts ([texts × hidden] row-major) to distil the [CLS] vector from.</param>
    public TrainingStep(ITrainableModel model, TrainingLoss loss, LossSettings settings, Func<string, int[]> tokens,
        int seed, int accumulate = 1, double maxGradNorm = 1.0, double weightDecay = 0.01, PoolingMode pooling = PoolingMode.Mean,
        double corruptRate = 0, int maskId = -1,
        Func<IReadOnlyList<string>, float[]>? teacher = null, Func<string, string, int[]>? pairTokens = null,
        double embeddingRateScale = 1, double headLearningRateFactor = 1)
    {
        if (loss.Task == TrainingTask.PairScore && pairTokens is null) throw new ArgumentNullException(nameof(pairTokens), "a pair-score loss needs the pair tokenizer");
        _pairTokens = pairTokens;
        _teacher = teacher;
        _pooling = pooling;
        if (loss.TrainsMaskedLmHead && model is not TrainableTransformer { HasMaskedLmHead: true })
            throw new SemblanceException($"--loss {loss} trains a BERT or RoFormer model with a masked-LM head");
        if (loss.TrainsMaskedLmHead && accumulate > 1)
            throw new SemblanceException($"--accumulate {accumulate}: --loss {loss} computes a per-token loss over the whole batch and does not chunk it; use --accumulate 1");
        _corruptRate = corruptRate;
        _maskId = maskId;
        _model = model;
        _loss = loss;
        _objective = loss.Create(settings);
        _tokens = tokens;
        _seed = seed;
        _accumulate = accumulate;
        _maxGradNorm = maxGradNorm;
        Optimizer = new AdamW(model.TrainableParameters().Concat(_objective.Parameters), weightDecay,
            learningRateFactor: embeddingRateScale == 1 && headLearningRateFactor == 1 ? null
                : p => AdamW.IsTokenEmbedding(p) ? embeddingRateScale
                    : model.IsHeadParameter(p) ? headLearningRateFactor : 1);
    }

    /// <summary>The loss this step minimises (its own <see cref="EmbeddingLoss.Parameters"/> are trained too).</summary>
    public EmbeddingLoss Objective => _objective;

    public AdamW Optimizer { get; }

    public StepResult Run(TrainingRow[] rows, long step, double learningRate, ComputeContext context)
    {
        // A pair-score row is one sequence (the pair); an embedding row is one sequence per text.
        bool pairs = _loss.Task == TrainingTask.PairScore;
        int columns = pairs ? 1 : rows[0].Texts.Length;
        var ids = new List<IReadOnlyList<int[]>>();
        var keys = new ulong[columns][];
        ulong stepKey = DropoutMask.Mix(DropoutMask.Mix((ulong)(uint)_seed) ^ (ulong)step);
        for (int c = 0; c < columns; c++)
        {
            ids.Add(rows.Select(r => pairs ? _pairTokens!(r.Texts[0], r.Texts[1]) : _tokens(r.Texts[c])).ToList());
            keys[c] = new ulong[rows.Length];
            for (int r = 0; r < rows.Length; r++) keys[c][r] = DropoutMask.Mix(stepKey ^ ((ulong)c << 48) ^ (ulong)r);
        }
        float[]? scores = _loss.UsesScores ? rows.Select(r => r.Score).ToArray() : null;

        long start = Stopwatch.GetTimestamp();
        long backwardStart;
        LossValue value;
        if (_objective is SimBertLoss simbert)
        {
            var tape = new Tape(context);
            var options = new SimBertOptions(_corruptRate, _maskId, DropoutMask.Mix(stepKey ^ 0xC0AAu));
            var teacher = _teacher?.Invoke([.. rows.Select(r => r.Texts[0]), .. rows.Select(r => r.Texts[1])]);
            value = simbert.Compute(tape, (TrainableTransformer)_model, ids[0], ids[1], [.. keys[0], .. keys[1]], options, teacher).Total;
            backwardStart = Stopwatch.GetTimestamp();
            if (double.IsFinite(value.Reported)) tape.Backward(value.Objective);
        }
        else value = GradientCache.Accumulate(_model, _objective, ids, scores, keys, _accumulate, _pooling, context, out backwardStart);
        long end = Stopwatch.GetTimestamp();
        var forward = Stopwatch.GetElapsedTime(start, backwardStart);
        var backward = Stopwatch.GetElapsedTime(backwardStart, end);
        if (!double.IsFinite(value.Reported)) return new StepResult(value.Reported, double.NaN, false, forward, backward, TimeSpan.Zero);
        double norm = Optimizer.ClipGradientNorm(_maxGradNorm);
        if (!double.IsFinite(norm)) return new StepResult(value.Reported, norm, false, forward, backward, Stopwatch.GetElapsedTime(end));
        Optimizer.Update(learningRate);
        _model.ZeroGradients();
        foreach (var p in _objective.Parameters) p.ZeroGrad();
        return new StepResult(value.Reported, norm, true, forward, backward, Stopwatch.GetElapsedTime(end));
    }
}
