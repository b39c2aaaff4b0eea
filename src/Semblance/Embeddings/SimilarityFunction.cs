// How two embeddings are compared, as sentence-transformers' `similarity_fn_name` declares it per model
// (config_sentence_transformers.json): cosine, dot, euclidean (−‖a−b‖₂) or manhattan (−‖a−b‖₁). Higher is always
// more similar, so the distances are negated. Matrix (every a against every b) and pairwise (a[i] against b[i]) forms.
using System.Numerics.Tensors;

namespace Semblance.Embeddings;

/// <summary>A similarity between two vectors; higher means more similar.</summary>
public enum SimilarityFunction
{
    /// <summary>Cosine of the angle, in [−1, 1]; 0 when either vector is zero.</summary>
    Cosine,

    /// <summary>Dot product (equal to cosine for unit-length vectors).</summary>
    Dot,

    /// <summary>Negative Euclidean distance −‖a − b‖₂.</summary>
    Euclidean,

    /// <summary>Negative Manhattan distance −‖a − b‖₁.</summary>
    Manhattan,
}

/// <summary>Scores with a <see cref="SimilarityFunction"/>: one pair, every pair of two lists, or the i-th of each.</summary>
public static class SimilarityFunctions
{
    /// <summary>The sentence-transformers name ("cosine", "dot", "euclidean", "manhattan").</summary>
    public static string Name(SimilarityFunction function) => function switch
    {
        SimilarityFunction.Cosine => "cosine",
        SimilarityFunction.Dot => "dot",
        SimilarityFunction.Euclidean => "euclidean",
        SimilarityFunction.Manhattan => "manhattan",
        _ => throw new ArgumentOutOfRangeException(nameof(function)),
    };

    /// <summary>Parses a sentence-transformers name (also "dot_product" and "cos_sim", which older configs use); null when unknown.</summary>
    public static SimilarityFunction? TryParse(string name) => name switch
    {
        "cosine" or "cos_sim" => SimilarityFunction.Cosine,
        "dot" or "dot_product" or "dot_score" => SimilarityFunction.Dot,
        "euclidean" => SimilarityFunction.Euclidean,
        "manhattan" => SimilarityFunction.Manhattan,
        _ => null,
    };

    /// <summary>The similarity of one pair of equal-length vectors.</summary>
    public static float Score(SimilarityFunction function, ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"vectors have different dimensions ({a.Length} and {b.Length})");
        switch (function)
        {
            case SimilarityFunction.Cosine:
                float na = TensorPrimitives.Norm(a), nb = TensorPrimitives.Norm(b);
                return na == 0 || nb == 0 ? 0 : TensorPrimitives.Dot(a, b) / (na * nb);
            case SimilarityFunction.Dot:
                return TensorPrimitives.Dot(a, b);
            case SimilarityFunction.Euclidean:
                return -TensorPrimitives.Distance(a, b);
            case SimilarityFunction.Manhattan:
                float sum = 0;
                for (int i = 0; i < a.Length; i++) sum += MathF.Abs(a[i] - b[i]);
                return -sum;
            default:
                throw new ArgumentOutOfRangeException(nameof(function));
        }
    }

    /// <summary>[a.Count][b.Count]: every vector of <paramref name="a"/> against every vector of <paramref name="b"/>.</summary>
    public static float[][] Matrix(SimilarityFunction function, IReadOnlyList<float[]> a, IReadOnlyList<float[]> b)
    {
        var result = new float[a.Count][];
        for (int i = 0; i < a.Count; i++)
        {
            result[i] = new float[b.Count];
            for (int j = 0; j < b.Count; j++) result[i][j] = Score(function, a[i], b[j]);
        }
        return result;
    }

    /// <summary>[n]: a[i] against b[i]; both lists must have the same length.</summary>
    public static float[] Pairwise(SimilarityFunction function, IReadOnlyList<float[]> a, IReadOnlyList<float[]> b)
    {
        if (a.Count != b.Count) throw new ArgumentException($"pairwise similarity needs lists of the same length ({a.Count} and {b.Count})");
        var result = new float[a.Count];
        for (int i = 0; i < a.Count; i++) result[i] = Score(function, a[i], b[i]);
        return result;
    }
}
