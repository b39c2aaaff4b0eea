// The batch loop every model backend shares: parallel tokenization, batches of similar length, input order restored.
using Semblance.Models;
using Semblance.Numerics;
using Semblance.Text;

namespace Semblance.Embeddings;

/// <summary>Writes one vector per sequence of <paramref name="batch"/> into <paramref name="pooled"/> ([BatchSize, dimension]).</summary>
internal delegate void BatchEncoder(TokenBatch batch, Span<float> pooled);

internal static class LengthSortedBatches
{
    /// <summary>
    /// Tokenizes <paramref name="texts"/> over the context's workers, sorts them by token count so each batch holds
    /// similar lengths (little wasted work in attention or in a recurrence's tail), encodes batches of
    /// <paramref name="batchSize"/>, and writes each vector at its text's row of <paramref name="output"/>.
    /// Returns the number of tokens encoded.
    /// </summary>
    public static long Embed<T>(IReadOnlyList<T> texts, Span<float> output, int dimension, int batchSize, ComputeContext ctx,
        Func<T, TokenizedText> tokenize, BatchEncoder encode, CancellationToken cancellationToken)
    {
        int n = texts.Count;
        if (output.Length != (long)n * dimension) throw new ArgumentException($"output has {output.Length} floats, expected {n}x{dimension}");
        if (n == 0) return 0;

        var encoded = new TokenizedText[n];
        int slices = Math.Min(ctx.Threads * 4, n);
        ctx.For(slices, s =>
        {
            for (int i = s; i < n; i += slices) encoded[i] = tokenize(texts[i]);
        });

        var order = new int[n];
        var keys = new int[n];
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
            keys[i] = encoded[i].Length;
        }
        Array.Sort(keys, order);

        long tokens = 0;
        var pooled = new float[batchSize * dimension];
        var ids = new List<int[]>(batchSize);
        var types = new List<int[]>(batchSize);
        for (int start = 0; start < n; start += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(batchSize, n - start);
            ids.Clear();
            types.Clear();
            for (int j = 0; j < count; j++)
            {
                var e = encoded[order[start + j]];
                ids.Add(e.Ids);
                types.Add(e.TypeIds);
            }
            var batch = TokenBatch.FromSequences(ids, types);
            encode(batch, pooled.AsSpan(0, count * dimension));
            for (int j = 0; j < count; j++)
                pooled.AsSpan(j * dimension, dimension).CopyTo(output.Slice(order[start + j] * dimension, dimension));
            tokens += batch.TokenCount;
        }
        return tokens;
    }
}
