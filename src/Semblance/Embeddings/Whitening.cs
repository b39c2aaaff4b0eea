// BERT-whitening (Su et al. 2021, "Whitening Sentence Representations for Better Semantics and Faster Retrieval").
//   μ = mean(x),  Σ = cov(x) = U Λ Uᵀ,  W = U Λ^(-1/2),  x̃ = (x − μ) W[:, :k]
// The first k columns belong to the k largest eigenvalues, so k < d also reduces the dimension (PCA on the way).
// Knobs: k (0 = keep every direction that has variance). Directions with λ ≤ 1e-10·λ_max carry no variance
// (n ≤ d, duplicated or constant features, or the exact linear constraint a final LayerNorm puts on BERT outputs);
// keeping one would divide by ~0, so k = 0 keeps the usable rank and an explicit k above it is an error that names
// n, d and the rank instead of the paper's inf.
using Semblance.Models;
using System.Globalization;
using System.Numerics.Tensors;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;
using Semblance.IO;

namespace Semblance.Embeddings;

/// <summary>A fitted whitening map; load one with <see cref="Load"/> and set it as <see cref="SentenceEncoder.Transform"/>.</summary>
public sealed class Whitening : IVectorTransform
{
    public const string FormatName = "semblance-whitening";
    public const int FormatVersion = 1;

    /// <summary>Eigenvalues at or below this fraction of the largest are treated as zero variance.</summary>
    public const double RelativeEigenvalueFloor = 1e-10;

    private readonly float[] _mean;
    private readonly float[] _kernel;

    public Whitening(float[] mean, float[] kernel, int outputDimension, long count, double explainedVariance)
    {
        if (outputDimension < 1 || kernel.Length != (long)mean.Length * outputDimension)
            throw new ArgumentException($"kernel has {kernel.Length} values, expected {mean.Length}x{outputDimension}");
        _mean = mean;
        _kernel = kernel;
        OutputDimension = outputDimension;
        Count = count;
        ExplainedVariance = explainedVariance;
    }

    public int InputDimension => _mean.Length;

    public int OutputDimension { get; }

    /// <summary>μ, [InputDimension].</summary>
    public ReadOnlySpan<float> Mean => _mean;

    /// <summary>W = U Λ^(-1/2) restricted to the kept columns, row-major [InputDimension, OutputDimension].</summary>
    public ReadOnlySpan<float> Kernel => _kernel;

    /// <summary>Number of vectors the fit saw.</summary>
    public long Count { get; }

    /// <summary>Share of the total variance in the kept directions: Σ_{i&lt;k} λ_i / Σ λ_i.</summary>
    public double ExplainedVariance { get; }

    /// <summary>All eigenvalues of Σ in descending order; only known right after a fit (not stored in files).</summary>
    public IReadOnlyList<double>? Eigenvalues { get; init; }

    /// <summary>Provenance: the encoder directory the vectors came from (null when fitted on raw vectors).</summary>
    public string? Encoder { get; init; }

    /// <summary>Provenance: the pooling the vectors were made with.</summary>
    public string? Pooling { get; init; }

    /// <summary>
    /// The same map keeping only the first <paramref name="k"/> output dimensions (the columns are ordered by
    /// eigenvalue, so this equals fitting with k directly); 0 keeps all.
    /// </summary>
    public Whitening Truncate(int k)
    {
        if (k == 0 || k == OutputDimension) return this;
        if (k < 0 || k > OutputDimension)
            throw new SemblanceException($"cannot keep {k} whitened dimensions: the whitening has {OutputDimension} (expected 0 or 1..{OutputDimension})");
        int d = InputDimension, full = OutputDimension;
        var kernel = new float[(long)d * k];
        for (int i = 0; i < d; i++) _kernel.AsSpan(i * full, k).CopyTo(kernel.AsSpan(i * k, k));
        double ev = Eigenvalues is { } ev0 ? ev0.Take(k).Sum() / ev0.Where(v => v > 0).Sum() : double.NaN;
        return new Whitening(_mean, kernel, k, Count, ev) { Eigenvalues = Eigenvalues, Encoder = Encoder, Pooling = Pooling };
    }

    /// <summary>Fits on an in-memory [rows, dimension] matrix; see <see cref="WhiteningAccumulator"/> for streaming.</summary>
    public static Whitening Fit(ReadOnlySpan<float> vectors, int rows, int dimension, int k = 0, string source = "vectors")
    {
        var acc = new WhiteningAccumulator(dimension, source);
        acc.Add(vectors, rows);
        return acc.Fit(k);
    }

    public void Apply(ReadOnlySpan<float> input, Span<float> output, int rows)
    {
        int d = InputDimension, k = OutputDimension;
        if (input.Length < (long)rows * d) throw new ArgumentException($"input has {input.Length} floats, expected {rows}x{d}");
        if (output.Length < (long)rows * k) throw new ArgumentException($"output has {output.Length} floats, expected {rows}x{k}");
        Span<float> centered = d <= 4096 ? stackalloc float[d] : new float[d];
        for (int r = 0; r < rows; r++)
        {
            TensorPrimitives.Subtract(input.Slice(r * d, d), _mean, centered);
            var o = output.Slice(r * k, k);
            o.Clear();
            for (int i = 0; i < d; i++)
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(_kernel, i * k, k), centered[i], o, o);
        }
    }

    /// <summary>
    /// Saves as safetensors: <c>mean</c> F32 [d], <c>kernel</c> F32 [d, k], provenance in <c>__metadata__</c>
    /// (docs/formats/whitening.md); written through a temp file and an atomic rename.
    /// </summary>
    public void Save(string path)
    {
        var w = new SafeTensorsWriter();
        w.Metadata["format"] = FormatName;
        w.Metadata["format_version"] = FormatVersion.ToString(CultureInfo.InvariantCulture);
        w.Metadata["input_dim"] = InputDimension.ToString(CultureInfo.InvariantCulture);
        w.Metadata["output_dim"] = OutputDimension.ToString(CultureInfo.InvariantCulture);
        w.Metadata["n"] = Count.ToString(CultureInfo.InvariantCulture);
        w.Metadata["explained_variance"] = ExplainedVariance.ToString("R", CultureInfo.InvariantCulture);
        if (Encoder is not null) w.Metadata["encoder"] = Encoder;
        if (Pooling is not null) w.Metadata["pooling"] = Pooling;
        w.Add("mean", [InputDimension], _mean);
        w.Add("kernel", [InputDimension, OutputDimension], _kernel);
        w.Save(path);
    }

    /// <summary>
    /// Refuses a whitening fitted on vectors of one pooling for vectors of another (the mean and covariance would
    /// not describe them); files without a recorded pooling (fitted on --vectors) are accepted as they are.
    /// </summary>
    public static void CheckPooling(Whitening whitening, string pooling, string source)
    {
        if (whitening.Pooling is { } fitted && fitted != pooling)
            throw new SemblanceException($"{source}: the whitening was fitted on {fitted}-pooled vectors but these are {pooling}-pooled; refit it with --pooling {pooling} or encode with --pooling {fitted}");
    }

    /// <summary>Reads a whitening file; NaN/±Inf in it are refused unless <paramref name="allowNonFinite"/>.</summary>
    public static Whitening Load(string path, bool allowNonFinite = false)
    {
        var f = SafeTensorsContent.Read(path, allowNonFinite);
        if (!f.Metadata.TryGetValue("format", out var format) || format != FormatName)
            throw new ModelFormatException($"{path}: not a whitening file (__metadata__ format is '{format}', expected '{FormatName}')");
        var version = f.RequireMetadata("format_version");
        if (version != FormatVersion.ToString(CultureInfo.InvariantCulture))
            throw new ModelFormatException($"{path}: whitening format_version {version} is not supported (expected {FormatVersion})");
        var kernelShape = f.Shape("kernel");
        if (kernelShape.Length != 2 || kernelShape[0] < 1 || kernelShape[1] < 1)
            throw new ModelFormatException($"{path}: tensor 'kernel' has shape [{string.Join(", ", kernelShape)}], expected [d, k]");
        int d = kernelShape[0], k = kernelShape[1];
        var mean = f.Get("mean", d);
        var kernel = f.Get("kernel", d, k);
        long n = long.TryParse(f.Metadata.GetValueOrDefault("n"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var nn) ? nn : 0;
        double ev = double.TryParse(f.Metadata.GetValueOrDefault("explained_variance"), NumberStyles.Float, CultureInfo.InvariantCulture, out var e) ? e : double.NaN;
        return new Whitening(mean, kernel, k, n, ev)
        {
            Encoder = f.Metadata.GetValueOrDefault("encoder"),
            Pooling = f.Metadata.GetValueOrDefault("pooling"),
        };
    }
}

/// <summary>
/// Streaming whitening fit: accumulates Σ(x − s) and Σ(x − s)(x − s)ᵀ in float64 chunk by chunk, where the shift s is
/// the first chunk's mean (it keeps the final Σ = (S − n δδᵀ)/(n − 1) free of cancellation when the mean is large).
/// </summary>
public sealed class WhiteningAccumulator
{
    // G rows per parallel work item: a 32 × d tile of doubles stays in L2 while the chunk's rows stream past it.
    private const int TileRows = 32;

    private readonly string _source;
    private readonly double[] _shift;
    private readonly double[] _sum;
    private readonly double[] _outer;
    private bool _shiftSet;
    private (double[] Values, Matrix<double> Vectors, int[] Order)? _decomposition;

    public WhiteningAccumulator(int dimension, string source = "vectors")
    {
        if (dimension < 1) throw new ArgumentOutOfRangeException(nameof(dimension));
        Dimension = dimension;
        _source = source;
        _shift = new double[dimension];
        _sum = new double[dimension];
        _outer = new double[(long)dimension * dimension];
    }

    public int Dimension { get; }

    public long Count { get; private set; }

    /// <summary>Adds <paramref name="rows"/> row-major vectors; a NaN or infinite value is an error naming its row (counting from 1 across all chunks).</summary>
    public void Add(ReadOnlySpan<float> vectors, int rows)
    {
        int d = Dimension;
        if (vectors.Length != (long)rows * d) throw new ArgumentException($"got {vectors.Length} floats, expected {rows}x{d}");
        if (rows == 0) return;
        for (int r = 0; r < rows; r++)
        {
            var row = vectors.Slice(r * d, d);
            for (int c = 0; c < d; c++)
                if (!float.IsFinite(row[c]))
                    throw new InputFormatException($"{_source}: row {Count + r + 1}: value {row[c].ToString(CultureInfo.InvariantCulture)} at column {c + 1}; whitening needs finite vectors");
        }
        if (!_shiftSet)
        {
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < d; c++) _shift[c] += vectors[r * d + c];
            for (int c = 0; c < d; c++) _shift[c] /= rows;
            _shiftSet = true;
        }
        var x = new double[(long)rows * d];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < d; c++)
            {
                double v = vectors[r * d + c] - _shift[c];
                x[r * d + c] = v;
                _sum[c] += v;
            }
        int tiles = (d + TileRows - 1) / TileRows;
        Parallel.For(0, tiles, t =>
        {
            int a0 = t * TileRows, a1 = Math.Min(d, a0 + TileRows);
            var g = _outer.AsSpan();
            for (int r = 0; r < rows; r++)
            {
                var xr = new ReadOnlySpan<double>(x, r * d, d);
                for (int a = a0; a < a1; a++)
                {
                    double xa = xr[a];
                    if (xa == 0) continue;
                    var ga = g.Slice(a * d + a, d - a);
                    TensorPrimitives.MultiplyAdd(xr[a..], xa, ga, ga);
                }
            }
        });
        Count += rows;
        _decomposition = null;
    }

    /// <summary>The mean μ of everything added.</summary>
    public double[] Mean()
    {
        RequireData();
        var mean = new double[Dimension];
        for (int c = 0; c < Dimension; c++) mean[c] = _shift[c] + _sum[c] / Count;
        return mean;
    }

    /// <summary>The sample covariance Σ (divided by n − 1, as numpy.cov), full symmetric [d, d].</summary>
    public double[,] Covariance()
    {
        RequireData();
        if (Count < 2) throw new InputFormatException($"{_source}: whitening needs at least 2 vectors, got {Count}");
        int d = Dimension;
        long n = Count;
        var cov = new double[d, d];
        for (int a = 0; a < d; a++)
        {
            double da = _sum[a] / n;
            for (int b = a; b < d; b++)
            {
                double v = (_outer[(long)a * d + b] - n * da * (_sum[b] / n)) / (n - 1);
                cov[a, b] = v;
                cov[b, a] = v;
            }
        }
        return cov;
    }

    /// <summary>Eigendecomposes Σ and keeps the <paramref name="k"/> largest directions (0 = every direction with variance).</summary>
    public Whitening Fit(int k = 0)
    {
        int d = Dimension;
        if (k < 0) throw new SemblanceException($"whitening dimension k = {k} is negative; expected 0 (keep every direction with variance) or 1..{d}");
        if (k > d) throw new SemblanceException($"whitening dimension k = {k} exceeds the vector dimension d = {d}");
        bool all = k == 0;
        // Several k are often fitted from one accumulation (eval sts --dims 0,256,128): decompose once.
        if (_decomposition is null)
        {
            var evd = Matrix<double>.Build.DenseOfArray(Covariance()).Evd(Symmetricity.Symmetric);
            var ev = evd.EigenValues.Select(c => c.Real).ToArray();
            _decomposition = (ev, evd.EigenVectors, Enumerable.Range(0, d).OrderByDescending(i => ev[i]).ThenBy(i => i).ToArray());
        }
        var (values, vectors, order) = _decomposition.Value;
        double max = values[order[0]];
        if (!(max > 0)) throw new InputFormatException($"{_source}: all {Count} vectors are identical; whitening needs variance");
        int rank = order.Count(i => values[i] > Whitening.RelativeEigenvalueFloor * max);
        if (all) k = rank;
        if (k > rank)
        {
            if (Count <= d)
                throw new InputFormatException($"{_source}: n = {Count} vectors in d = {d} dimensions give a covariance of rank {rank}, so at most {rank} whitened dimensions can be kept (asked for {k}); fit on more than {d} vectors or choose k <= {rank}");
            throw new InputFormatException($"{_source}: only {rank} of d = {d} directions have non-zero variance (n = {Count}), so at most {rank} whitened dimensions can be kept (asked for {k}); choose k <= {rank}");
        }
        double total = order.Where(i => values[i] > 0).Sum(i => values[i]);
        double kept = 0;
        var kernel = new float[(long)d * k];
        for (int j = 0; j < k; j++)
        {
            int col = order[j];
            kept += values[col];
            double scale = 1.0 / Math.Sqrt(values[col]);
            // Eigenvectors are defined up to sign; fixing the largest component positive makes files reproducible.
            int arg = 0;
            for (int i = 1; i < d; i++) if (Math.Abs(vectors[i, col]) > Math.Abs(vectors[arg, col])) arg = i;
            if (vectors[arg, col] < 0) scale = -scale;
            for (int i = 0; i < d; i++) kernel[(long)i * k + j] = (float)(vectors[i, col] * scale);
        }
        var mean = Mean().Select(v => (float)v).ToArray();
        return new Whitening(mean, kernel, k, Count, kept / total)
        {
            Eigenvalues = order.Select(i => values[i]).ToArray(),
        };
    }

    private void RequireData()
    {
        if (Count == 0) throw new InputFormatException($"{_source}: no vectors to fit whitening on");
    }
}
