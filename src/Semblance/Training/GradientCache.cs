// Exact gradient accumulation for losses that couple the whole batch (Gao et al., 2021, "Scaling Deep Contrastive
// Learning Batch Size under Memory Limited Setup", GradCache).
using Semblance.Embeddings;
using Semblance.Numerics;
using Semblance.Models;
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>
/// A contrastive loss needs every embedding of the batch at once, so splitting the batch and summing per-chunk
/// gradients is not the full-batch gradient. GradCache splits the chain rule instead:
/// ∂L/∂θ = Σ_chunks (∂L/∂E_chunk)·(∂E_chunk/∂θ). (1) Embed every chunk without keeping a graph; (2) compute L and
/// g = ∂L/∂E on the full batch of embeddings; (3) re-embed each chunk with a graph and back-propagate its slice of g.
/// Dropout masks are keyed per sequence (see <see cref="DropoutMask"/>), so the re-run reproduces step 1 exactly and
/// the result equals the full-batch gradient up to float rounding. Memory holds one chunk's graph at a time.
/// </summary>
internal static class GradientCache
{
    /// <summary>
    /// Adds ∂L/∂θ for one batch into the model's parameter gradients and returns the loss.
    /// <paramref name="columns"/>[c][row] are the token ids of column c (anchor, positive, ...) of each row;
    /// <paramref name="dropoutKeys"/>[c][row] (or null for no dropout) key each sequence's dropout masks.
    /// <paramref name="chunks"/> = 1 back-propagates through one graph of the whole batch.
    /// </summary>
    public static LossValue Accumulate(ITrainableModel model, EmbeddingLoss loss, IReadOnlyList<IReadOnlyList<int[]>> columns,
        float[]? scores, ulong[][]? dropoutKeys, int chunks, PoolingMode pooling, ComputeContext context) =>
        Accumulate(model, loss, columns, scores, dropoutKeys, chunks, pooling, context, out _);

    /// <summary>As above; <paramref name="backwardStart"/> is the <see cref="System.Diagnostics.Stopwatch"/> timestamp at which back-propagation began.</summary>
    public static LossValue Accumulate(ITrainableModel model, EmbeddingLoss loss, IReadOnlyList<IReadOnlyList<int[]>> columns,
        float[]? scores, ulong[][]? dropoutKeys, int chunks, PoolingMode pooling, ComputeContext context, out long backwardStart)
    {
        int rows = columns[0].Count;
        if (columns.Any(c => c.Count != rows)) throw new ArgumentException("columns differ in row count", nameof(columns));
        chunks = Math.Clamp(chunks, 1, Math.Max(1, rows));
        if (chunks == 1)
        {
            var tape = new Tape(context);
            var embeddings = new List<Tensor>();
            for (int c = 0; c < columns.Count; c++)
                embeddings.Add(model.Encode(tape, TokenBatch.FromSequences(columns[c]), pooling, dropoutKeys?[c]));
            var value = loss.Compute(tape, embeddings, scores);
            backwardStart = System.Diagnostics.Stopwatch.GetTimestamp();
            if (double.IsFinite(value.Reported)) tape.Backward(value.Objective);
            return value;
        }

        var parts = Enumerable.Range(0, chunks).Select(i => Part(rows, chunks, i)).ToArray();
        var leaves = new List<Tensor>();
        var noGraph = new Tape(context, recording: false);
        for (int c = 0; c < columns.Count; c++)
        {
            var pieces = parts.Select(p => model.Encode(noGraph, Slice(columns[c], p), pooling, Slice(dropoutKeys?[c], p))).ToArray();
            int h = pieces[0].Cols;
            var data = new float[rows * h];
            int offset = 0;
            foreach (var piece in pieces)
            {
                piece.Data.CopyTo(data, offset);
                offset += piece.Length;
            }
            leaves.Add(new Tensor(data, rows, h, requiresGrad: true));
        }
        var lossTape = new Tape(context);
        var result = loss.Compute(lossTape, leaves, scores);
        backwardStart = System.Diagnostics.Stopwatch.GetTimestamp();
        if (!double.IsFinite(result.Reported)) return result;
        lossTape.Backward(result.Objective);

        for (int c = 0; c < columns.Count; c++)
        {
            var g = leaves[c].Grad;
            if (g is null) continue;
            int h = leaves[c].Cols;
            foreach (var p in parts)
            {
                var tape = new Tape(context);
                var embedded = model.Encode(tape, Slice(columns[c], p), pooling, Slice(dropoutKeys?[c], p));
                tape.Backward(embedded, g.AsSpan(p.Start * h, p.Count * h));
            }
        }
        return result;
    }

    private static (int Start, int Count) Part(int total, int parts, int index)
    {
        int size = total / parts, extra = total % parts;
        return (index * size + Math.Min(index, extra), size + (index < extra ? 1 : 0));
    }

    private static TokenBatch Slice(IReadOnlyList<int[]> sequences, (int Start, int Count) part) =>
        TokenBatch.FromSequences(sequences.Skip(part.Start).Take(part.Count).ToList());

    private static ulong[]? Slice(ulong[]? keys, (int Start, int Count) part) => keys?.AsSpan(part.Start, part.Count).ToArray();
}
