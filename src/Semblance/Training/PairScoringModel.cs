// The pair-score task's view of a TrainableTransformer with a classification head: a pair in, its logits out.
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>
/// Lets the training step, GradCache and the trainer drive a cross-encoder as they drive an encoder: each "sequence" is
/// a pair tokenized <c>[CLS] text [SEP] text_pair [SEP]</c>, and <see cref="Encode"/> returns its logits [pairs,
/// num_labels] instead of a pooled vector (the pooling argument is not used). Token type ids follow BERT's pair
/// convention from the token ids: 0 through the first [SEP], 1 after it.
/// </summary>
internal sealed class PairScoringModel(TrainableTransformer model, int sepId) : ITrainableModel
{
    public TrainableTransformer Model { get; } = model;

    public IReadOnlyList<Parameter> Parameters => Model.Parameters;

    /// <summary>The logits per pair (num_labels).</summary>
    public int Dimension => Model.NumLabels;

    public int VocabSize => Model.VocabSize;

    public int MaxPositions => Model.MaxPositions;

    public Tensor Encode(Tape tape, TokenBatch batch, PoolingMode pooling, ulong[]? dropoutKeys = null) =>
        Model.Score(tape, WithPairTypes(batch), dropoutKeys);

    public string CheckpointName(Parameter p) => Model.CheckpointName(p);

    public bool IsHeadParameter(Parameter p) => Model.IsHeadParameter(p);

    /// <summary>The batch with type ids 1 after each sequence's first [SEP] (what <c>EncodePair</c> assigns).</summary>
    private TokenBatch WithPairTypes(TokenBatch batch)
    {
        var types = new int[batch.TokenCount];
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int end = batch.Offsets[b + 1], t = batch.Offsets[b];
            while (t < end && batch.Ids[t] != sepId) t++;
            for (t++; t < end; t++) types[t] = 1;
        }
        return new TokenBatch(batch.Ids, types, batch.Offsets);
    }

    /// <summary>
    /// One score per pair, for ranking (dev Spearman, thresholds): the logit of a one-label head, else the softmax
    /// probability of the last label (the "positive" class), as <c>CrossEncoder.Score</c> reads a model.
    /// </summary>
    public static double ScoreOf(ReadOnlySpan<float> logits)
    {
        if (logits.Length == 1) return logits[0];
        float max = System.Numerics.Tensors.TensorPrimitives.Max(logits);
        double sum = 0;
        foreach (var l in logits) sum += Math.Exp(l - max);
        return Math.Exp(logits[^1] - max) / sum;
    }
}
