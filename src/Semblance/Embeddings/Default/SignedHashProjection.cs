// Signed feature hashing (Weinberger et al. 2009, "Feature Hashing for Large Scale Multitask Learning"), with c
// entries per feature as in the sparse Johnson–Lindenstrauss transform (Kane & Nelson 2014):
//   h(x)_b = Σ_j Σ_{r<c} [bucket(j, r) = b] · sign(j, r) · x_j / √c,   E[h(x)·h(y)] = x·y
// so the dense vector keeps the TF-IDF cosine (the lexical precision that STS rewards) up to collision noise that
// shrinks as D grows. bucket/sign come from SplitMix64 of (seed, feature index, r): nothing is stored.
// Knobs: D (dimension), c (entries per feature; more = lower variance for the same D), seed.
using System.Numerics.Tensors;

namespace Semblance.Embeddings.Default;

internal sealed class SignedHashProjection
{
    private readonly int[] _bucket;
    private readonly float[] _value;

    public SignedHashProjection(int features, int dimension, int entriesPerFeature, int seed)
    {
        if (dimension < 1) throw new ArgumentOutOfRangeException(nameof(dimension), "the hash dimension must be at least 1");
        if (entriesPerFeature < 1 || entriesPerFeature > dimension)
            throw new ArgumentOutOfRangeException(nameof(entriesPerFeature), $"{entriesPerFeature} entries per feature must be in 1..{dimension}");
        Features = features;
        Dimension = dimension;
        EntriesPerFeature = entriesPerFeature;
        Seed = seed;
        _bucket = new int[(long)features * entriesPerFeature];
        _value = new float[_bucket.Length];
        float scale = 1 / MathF.Sqrt(entriesPerFeature);
        for (int j = 0; j < features; j++)
            for (int r = 0; r < entriesPerFeature; r++)
            {
                ulong u = Mix(((ulong)(uint)seed << 32) ^ ((ulong)(uint)j * (ulong)entriesPerFeature + (ulong)r));
                _bucket[j * entriesPerFeature + r] = (int)((u >> 1) % (ulong)dimension);
                _value[j * entriesPerFeature + r] = (u & 1) == 0 ? scale : -scale;
            }
    }

    public int Features { get; }

    public int Dimension { get; }

    public int EntriesPerFeature { get; }

    public int Seed { get; }

    /// <summary>SplitMix64's output function (Steele, Lea &amp; Flood 2014): a fixed, well-mixed 64-bit hash.</summary>
    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>h(x) of row <paramref name="row"/> of <paramref name="x"/> into <paramref name="output"/> [D] (overwritten).</summary>
    public void Project(SparseRows x, int row, Span<float> output)
    {
        if (output.Length != Dimension) throw new ArgumentException($"output has {output.Length} floats, expected {Dimension}");
        output.Clear();
        int c = EntriesPerFeature;
        for (int p = x.RowStart[row]; p < x.RowStart[row + 1]; p++)
        {
            int j = x.Columns[p];
            float xv = x.Values[p];
            for (int r = 0; r < c; r++) output[_bucket[j * c + r]] += _value[j * c + r] * xv;
        }
    }

    /// <summary>H M for a dense M [V, k] row-major: the hash of each column, as [D, k] row-major.</summary>
    public float[] ProjectColumns(ReadOnlySpan<float> m, int k)
    {
        if (m.Length != (long)Features * k) throw new ArgumentException($"matrix has {m.Length} values, expected {Features}x{k}");
        var result = new float[(long)Dimension * k];
        int c = EntriesPerFeature;
        for (int j = 0; j < Features; j++)
            for (int r = 0; r < c; r++)
            {
                var o = new Span<float>(result, _bucket[j * c + r] * k, k);
                TensorPrimitives.MultiplyAdd(m.Slice(j * k, k), _value[j * c + r], o, o);
            }
        return result;
    }

    /// <summary>
    /// Signed hash of features given by name (not vocabulary index), one entry each: the vector of a text none of whose
    /// features the model knows. Weights are (1 + ln count), L2-normalised. Never all-zero for a non-empty feature set:
    /// if the signs happen to cancel, the first feature's bucket is set.
    /// </summary>
    public static void ProjectNamed(IReadOnlyDictionary<string, int> counts, int seed, Span<float> output)
    {
        output.Clear();
        if (counts.Count == 0) throw new ArgumentException("at least one feature is needed", nameof(counts));
        double norm = 0;
        foreach (var c in counts.Values) norm += (1 + Math.Log(c)) * (1 + Math.Log(c));
        float scale = (float)(1 / Math.Sqrt(norm));
        int first = -1;
        foreach (var (name, c) in counts.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            ulong u = Mix(((ulong)(uint)seed << 32) ^ StableHash(name));
            int b = (int)((u >> 1) % (ulong)output.Length);
            if (first < 0) first = b;
            output[b] += ((u & 1) == 0 ? 1 : -1) * (float)(1 + Math.Log(c)) * scale;
        }
        if (TensorPrimitives.MaxMagnitude(output) == 0) output[first] = 1;
    }

    /// <summary>FNV-1a over the UTF-16 code units: the same on every run and platform (string.GetHashCode is randomised).</summary>
    public static ulong StableHash(string s)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (char ch in s)
        {
            h ^= ch;
            h *= 0x100000001B3UL;
        }
        return h;
    }
}
