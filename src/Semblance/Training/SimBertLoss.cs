// SimBERT (Su Jianlin, 2020, "鱼与熊掌兼得：融合检索和生成的SimBERT模型"): one BERT that both retrieves and generates,
// trained on pairs of similar sentences with a seq2seq loss under the UniLM mask plus an in-batch contrastive loss on
// the [CLS] vectors.
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>The SimBERT objective of one batch and its two terms (the reported loss is their sum).</summary>
internal readonly record struct SimBertValue(LossValue Total, double Generation, double Similarity, double Distillation = 0);

/// <summary>
/// Each pair (a, b) is packed in both directions, <c>[CLS] a [SEP] b [SEP]</c> and <c>[CLS] b [SEP] a [SEP]</c>, the
/// first sentence as segment 0 (source) and the rest as segment 1 (target), run once under the UniLM mask
/// (<see cref="Seq2SeqMask"/>). Loss = generation + similarity:
/// <list type="bullet">
/// <item>generation: mean cross-entropy of the masked-LM head's prediction at position t of token t + 1, over every t
/// whose next token is in segment 1 (the target's tokens and its final [SEP]; the first is predicted from the source's
/// [SEP]);</item>
/// <item>similarity: the [CLS] vectors of the 2B sequences (each sees only its own source) are L2-normalised, their
/// cosine matrix scaled by <see cref="Scale"/> (30 in the post), the diagonal masked out, and each row's softmax
/// cross-entropy taken against its pair partner (row of (a, b) ↔ row of (b, a)).</item>
/// </list>
/// As an <see cref="EmbeddingLoss"/> it is the similarity term over two embedding columns (the sources' and the
/// targets' vectors); <see cref="Compute(Tape, TrainableTransformer, IReadOnlyList{int[]}, IReadOnlyList{int[]}, ulong[], SimBertOptions, float[])"/>
/// is the whole objective, which needs the model's token outputs and therefore runs without GradCache.
/// </summary>
internal sealed class SimBertLoss(float scale = 30f) : EmbeddingLoss
{
    /// <summary>The diagonal's score offset (bert4keras subtracts 1e12 from self-similarities).</summary>
    private const float SelfPenalty = -1e12f;

    public float Scale { get; } = scale;

    public override string Name => "simbert";

    public override (int Min, int Max) Columns => (2, 2);

    /// <summary>The similarity term: columns[0] row i and columns[1] row i are partners; every other row of both is a negative.</summary>
    public override LossValue Compute(Tape tape, IReadOnlyList<Tensor> columns, float[]? scores)
    {
        CheckColumns(columns);
        var loss = Similarity(tape, tape.ConcatRows(columns[0], columns[1]));
        return new LossValue(loss, loss.Item);
    }

    /// <summary>
    /// In-batch contrastive loss over 2B vectors whose first half and second half are partners row by row.
    /// </summary>
    private Tensor Similarity(Tape tape, Tensor vectors)
    {
        int n = vectors.Rows, half = n / 2;
        var unit = tape.L2Normalize(vectors);
        var logits = tape.Scale(tape.MatMulTransposed(unit, unit), Scale);
        var self = new float[n * n];
        for (int i = 0; i < n; i++) self[i * n + i] = SelfPenalty;
        logits = tape.Add(logits, new Tensor(self, n, n, requiresGrad: false));
        var partners = new int[n];
        for (int i = 0; i < n; i++) partners[i] = i < half ? i + half : i - half;
        return tape.CrossEntropy(logits, partners);
    }

    /// <summary>
    /// The whole SimBERT objective for pairs (<paramref name="first"/>[i], <paramref name="second"/>[i]) given as token
    /// ids <c>[CLS] ... [SEP]</c>. <paramref name="dropoutKeys"/> (null: no dropout) holds one key per packed sequence,
    /// 2B of them: the (a, b) sequences first, then the (b, a) ones.
    /// </summary>
    /// <remarks>
    /// <paramref name="teacher"/> (RoFormer-Sim's distillation), when given, holds a teacher's vector of every packed
    /// sequence's source, [2B × hidden] row-major in the same order; the loss then adds mean((cls − teacher)²) over all
    /// elements (PyTorch's mse_loss).
    /// </remarks>
    public SimBertValue Compute(Tape tape, TrainableTransformer model, IReadOnlyList<int[]> first, IReadOnlyList<int[]> second,
        ulong[]? dropoutKeys, SimBertOptions? options = null, float[]? teacher = null)
    {
        if (first.Count != second.Count) throw new ArgumentException("the two columns differ in row count", nameof(second));
        var packed = Pack(first, second, model.MaxPositions, options ?? SimBertOptions.None);
        var hidden = model.Forward(tape, packed.Batch, dropoutKeys).Last;
        var logits = model.MaskedLmLogits(tape, tape.Embedding(hidden, packed.PredictingRows));
        var generation = tape.CrossEntropy(logits, packed.NextTokens);
        var cls = tape.Pool(PoolingMode.Cls, null, hidden, packed.Batch.Offsets);
        var similarity = Similarity(tape, cls);
        var total = tape.Add(generation, similarity);
        double distilled = 0;
        if (teacher is not null)
        {
            if (teacher.Length != cls.Length) throw new ArgumentException($"{teacher.Length} teacher values for {cls.Rows}x{cls.Cols} vectors", nameof(teacher));
            var negated = Array.ConvertAll(teacher, v => -v);
            var difference = tape.Add(cls, new Tensor(negated, cls.Rows, cls.Cols, requiresGrad: false));
            var distillation = tape.Scale(tape.Mean(tape.RowDot(difference, difference)), 1f / cls.Cols);
            total = tape.Add(total, distillation);
            distilled = distillation.Item;
        }
        return new SimBertValue(new LossValue(total, total.Item), generation.Item, similarity.Item, distilled);
    }

    /// <summary>A both-direction seq2seq batch: the packed sequences, the rows that predict, and the tokens they predict.</summary>
    public sealed record Seq2SeqPairs(TokenBatch Batch, int[] PredictingRows, int[] NextTokens);

    /// <summary>
    /// Packs each pair in both directions (all (a, b) first, then all (b, a)) with token types 0 for the source and 1
    /// for the target, flagged for the UniLM mask; a sequence longer than <paramref name="maxPositions"/> is an error
    /// (the caller truncates each sentence to at most (maxPositions + 1) / 2 tokens).
    /// </summary>
    public static Seq2SeqPairs Pack(IReadOnlyList<int[]> first, IReadOnlyList<int[]> second, int maxPositions, SimBertOptions options)
    {
        int rows = first.Count;
        var ids = new List<int[]>(2 * rows);
        var types = new List<int[]>(2 * rows);
        for (int direction = 0; direction < 2; direction++)
            for (int r = 0; r < rows; r++)
            {
                var (source, target) = direction == 0 ? (first[r], second[r]) : (second[r], first[r]);
                if (source.Length < 2 || target.Length < 2) throw new ArgumentException($"row {r}: a sentence needs at least [CLS] and [SEP]");
                source = options.Corrupt(source, r, direction);
                var sequence = new int[source.Length + target.Length - 1];
                source.CopyTo(sequence, 0);
                target.AsSpan(1).CopyTo(sequence.AsSpan(source.Length));
                if (sequence.Length > maxPositions)
                    throw new ArgumentException($"row {r}: {sequence.Length} tokens in the seq2seq pair, more than the model's {maxPositions} positions");
                var type = new int[sequence.Length];
                type.AsSpan(source.Length).Fill(1);
                ids.Add(sequence);
                types.Add(type);
            }
        var packed = TokenBatch.FromSequences(ids, types);
        var batch = new TokenBatch(packed.Ids, packed.TypeIds, packed.Offsets) { UsesSeq2SeqMask = true };
        var predicting = new List<int>();
        var next = new List<int>();
        for (int s = 0; s < batch.BatchSize; s++)
            for (int t = batch.Offsets[s]; t + 1 < batch.Offsets[s + 1]; t++)
                if (batch.TypeIds[t + 1] == 1)
                {
                    predicting.Add(t);
                    next.Add(batch.Ids[t + 1]);
                }
        return new Seq2SeqPairs(batch, [.. predicting], [.. next]);
    }
}

/// <summary>
/// RoFormer-Sim's denoising extra: with <see cref="CorruptRate"/> &gt; 0 each source token (not [CLS]/[SEP]) is, with
/// that probability, replaced by [MASK] or deleted (even odds), BART-style, so the model learns to generate the
/// similar sentence from a damaged source. Draws are a pure function of (seed, step, row, direction, position).
/// </summary>
internal sealed record SimBertOptions(double CorruptRate = 0, int MaskId = -1, ulong Key = 0)
{
    public static SimBertOptions None { get; } = new();

    /// <summary>The source as the model sees it (unchanged when the rate is 0).</summary>
    public int[] Corrupt(int[] source, int row, int direction)
    {
        if (CorruptRate <= 0) return source;
        var kept = new List<int>(source.Length) { source[0] };
        for (int i = 1; i < source.Length - 1; i++)
        {
            ulong h = DropoutMask.Mix(Key ^ DropoutMask.Mix(((ulong)(uint)row << 32) ^ ((ulong)(uint)direction << 24) ^ (uint)i));
            double u = (h >> 11) * (1.0 / (1UL << 53));
            if (u >= CorruptRate) kept.Add(source[i]);
            else if ((h & 1) == 0 && MaskId >= 0) kept.Add(MaskId);
        }
        kept.Add(source[^1]);
        return [.. kept];
    }
}
