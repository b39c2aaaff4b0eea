// Exact (brute-force) index: float32, float16 or int8 scalar-quantised storage, scanned with cache-blocked
// multi-query SIMD kernels over query groups x database blocks, multi-threaded over both.
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json.Nodes;
using Semblance.Numerics;

namespace Semblance.Search;

public enum FlatEncoding
{
    Float32,
    Float16,
    /// <summary>
    /// Per-dimension affine 8-bit codes: x_j ≈ min_j + scale_j·u_j, u_j ∈ [0, 255], min/max learnt from the first
    /// batch added (later values outside the range are clamped). The scan uses 7-bit signed query codes for
    /// speed; the best <see cref="FlatIndex.RerankFactor"/>·k candidates are then re-scored exactly against the
    /// float32 originals (kept in a separate file that is memory-mapped on load, so only the candidates' rows are
    /// read) with the float query.
    /// </summary>
    Int8,
}

public sealed unsafe class FlatIndex : VectorIndex
{
    public const string KindF32 = "flat";
    public const string KindF16 = "flat-f16";
    public const string KindInt8 = "flat-int8";
    private const int Lanes = FlatKernels.Lanes;

    private readonly NativeBuffer _data;
    private NativeBuffer _originals = new();
    private float[] _norms = [];
    private float[]? _min;
    private float[]? _scale;

    public FlatIndex(int dimension, Metric metric, FlatEncoding encoding = FlatEncoding.Float32)
        : this(dimension, metric, encoding, null, new NativeBuffer()) { }

    private FlatIndex(int dimension, Metric metric, FlatEncoding encoding, ItemStore? items, NativeBuffer data) : base(dimension, metric, items)
    {
        Encoding = encoding;
        PaddedDimension = encoding == FlatEncoding.Int8 ? (dimension + 3) & ~3 : dimension;
        _data = data;
    }

    public FlatEncoding Encoding { get; }

    public override string Kind => Encoding switch { FlatEncoding.Float16 => KindF16, FlatEncoding.Int8 => KindInt8, _ => KindF32 };

    /// <summary>int8: candidates kept per requested hit before the exact re-rank.</summary>
    public int RerankFactor { get; set; } = 4;

    /// <summary>Bytes of vector data held (mapped or owned), excluding ids and payloads.</summary>
    public long VectorBytes => _data.Length + _originals.Length + (long)_norms.Length * sizeof(float);

    internal int PaddedDimension { get; }

    private int ElementBytes => Encoding switch { FlatEncoding.Float16 => 2, FlatEncoding.Int8 => 1, _ => 4 };

    private long BlockBytes => (long)Lanes * PaddedDimension * ElementBytes;

    private int Blocks => (Items.Slots + Lanes - 1) / Lanes;

    private protected override void AddCore(float[] vectors, int n)
    {
        int d = Dimension, dp = PaddedDimension;
        int start = Items.Slots;
        if (Encoding == FlatEncoding.Int8 && _min is null) Train(vectors, n);
        long blocks = (start + n + Lanes - 1) / Lanes;
        _data.Resize(blocks * BlockBytes);
        if (Metric == Metric.L2 && _norms.Length < start + n)
            Array.Resize(ref _norms, Math.Max(start + n, _norms.Length + _norms.Length / 16));
        var tmp = new float[d];
        if (Encoding == FlatEncoding.Int8)
        {
            _originals.Resize((long)(start + n) * d * 4);
            vectors.AsSpan(0, n * d).CopyTo(new Span<float>((float*)_originals.Pointer + (long)start * d, n * d));
        }
        for (int i = 0; i < n; i++)
        {
            int slot = start + i;
            byte* block = _data.Pointer + slot / Lanes * BlockBytes;
            int lane = slot % Lanes;
            var v = vectors.AsSpan(i * d, d);
            switch (Encoding)
            {
                case FlatEncoding.Float32:
                    for (int j = 0; j < d; j++) ((float*)block)[j * Lanes + lane] = v[j];
                    v.CopyTo(tmp);
                    break;
                case FlatEncoding.Float16:
                    for (int j = 0; j < d; j++)
                    {
                        var h = (Half)v[j];
                        ((Half*)block)[j * Lanes + lane] = h;
                        tmp[j] = (float)h;
                    }
                    break;
                default:
                    for (int j = 0; j < d; j++)
                    {
                        float u = _scale![j] > 0 ? MathF.Round((v[j] - _min![j]) / _scale[j]) : 0;
                        byte code = (byte)Math.Clamp(u, 0, 255);
                        block[(j >> 2) * 64 + lane * 4 + (j & 3)] = code;
                        tmp[j] = _min![j] + _scale[j] * code;
                    }
                    break;
            }
            if (Metric == Metric.L2) _norms[slot] = SquaredNorm(tmp);
        }
    }

    /// <summary>flat-f16 stores only what float16 can hold: |x| ≤ 65504, or the value would become ±Inf.</summary>
    private protected override void CheckStorable(ReadOnlySpan<float> v, int row)
    {
        if (Encoding != FlatEncoding.Float16) return;
        for (int j = 0; j < v.Length; j++)
            if (MathF.Abs(v[j]) > (float)Half.MaxValue)
                throw new InputFormatException($"vector {row}: value {v[j].ToString(System.Globalization.CultureInfo.InvariantCulture)} at dimension {j} is beyond float16's range (±65504) of kind {KindF16}; use kind {KindF32} or scale the vectors");
    }

    private void Train(float[] vectors, int n)
    {
        int d = Dimension, dp = PaddedDimension;
        _min = new float[dp];
        _scale = new float[dp];
        var max = new float[dp];
        Array.Fill(_min, float.PositiveInfinity, 0, d);
        Array.Fill(max, float.NegativeInfinity, 0, d);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++)
            {
                float x = vectors[i * d + j];
                if (x < _min[j]) _min[j] = x;
                if (x > max[j]) max[j] = x;
            }
        for (int j = 0; j < d; j++) _scale[j] = (max[j] - _min[j]) / 255f;
    }

    private protected override (int Slot, float Score)[][] SearchCore(float[] queries, int nq, int k, SearchOptions options)
    {
        int d = Dimension, dp = PaddedDimension;
        int groups = (nq + FlatKernels.QueryGroup - 1) / FlatKernels.QueryGroup;
        int nqp = groups * FlatKernels.QueryGroup;
        int capacity = Encoding == FlatEncoding.Int8 ? (int)Math.Min(Count, Math.Max((long)k * RerankFactor, k + 32)) : k;
        var q = new float[(long)nqp * dp];
        for (int i = 0; i < nq; i++) queries.AsSpan(i * d, d).CopyTo(q.AsSpan(i * dp, d));
        QuantizedQueries? qq = Encoding == FlatEncoding.Int8 ? QuantizeQueries(q, nqp) : null;

        int threads = Math.Max(1, Threads);
        int blocks = Blocks;
        int qParts = Math.Min(threads, groups);
        int bParts = Math.Max(1, Math.Min(threads / qParts, blocks));
        var heaps = new TopK[qParts * bParts][];
        var deleted = ExcludedSlots(options);
        // The tier is chosen on the calling thread and handed to every worker.
        var kernels = DistanceKernels.ForCurrentThread;
        void Tile(int t)
        {
            int qp = t / bParts, bp = t % bParts;
            int g0 = (int)((long)groups * qp / qParts), g1 = (int)((long)groups * (qp + 1) / qParts);
            int b0 = (int)((long)blocks * bp / bParts), b1 = (int)((long)blocks * (bp + 1) / bParts);
            var h = new TopK[(g1 - g0) * FlatKernels.QueryGroup];
            for (int i = 0; i < h.Length; i++) h[i] = new TopK(capacity);
            heaps[t] = h;
            ScanTile(kernels, q, qq, nq, g0, g1, b0, b1, h, deleted);
        }
        if (qParts * bParts == 1) Tile(0);
        else Parallel.For(0, qParts * bParts, new ParallelOptions { MaxDegreeOfParallelism = threads }, Tile);

        var result = new (int Slot, float Score)[nq][];
        for (int qp = 0; qp < qParts; qp++)
        {
            int g0 = (int)((long)groups * qp / qParts), g1 = (int)((long)groups * (qp + 1) / qParts);
            for (int i = 0; i < (g1 - g0) * FlatKernels.QueryGroup; i++)
            {
                int query = g0 * FlatKernels.QueryGroup + i;
                if (query >= nq) break;
                var merged = heaps[qp * bParts][i];
                for (int bp = 1; bp < bParts; bp++) merged.MergeFrom(heaps[qp * bParts + bp][i]);
                var sorted = merged.ToSorted();
                result[query] = Encoding == FlatEncoding.Int8 ? Rerank(kernels, q, query * dp, sorted, k) : sorted;
            }
        }
        return result;
    }

    private sealed class QuantizedQueries(sbyte[] codes, float[] offset, float[] step)
    {
        public readonly sbyte[] Codes = codes;
        public readonly float[] Offset = offset;
        public readonly float[] Step = step;
    }

    /// <summary>
    /// q·x̂ = Σ q_j·min_j + Σ (q_j·scale_j)·u_j; the weights w = q∘scale are coded as w ≈ step·r with |r| ≤ <see cref="FlatKernels.QueryCodeMax"/>.
    /// </summary>
    private QuantizedQueries QuantizeQueries(float[] q, int nqp)
    {
        int dp = PaddedDimension;
        var codes = new sbyte[(long)nqp * dp];
        var offset = new float[nqp];
        var step = new float[nqp];
        var w = new float[dp];
        for (int i = 0; i < nqp; i++)
        {
            var qi = q.AsSpan(i * dp, dp);
            TensorPrimitives.Multiply(qi, _scale, w);
            offset[i] = TensorPrimitives.Dot(qi, _min);
            float amax = MathF.Abs(TensorPrimitives.MaxMagnitude(w));
            float s = amax > 0 ? amax / FlatKernels.QueryCodeMax : 1f;
            step[i] = s;
            for (int j = 0; j < dp; j++) codes[(long)i * dp + j] = (sbyte)Math.Clamp(MathF.Round(w[j] / s), -FlatKernels.QueryCodeMax, FlatKernels.QueryCodeMax);
        }
        return new QuantizedQueries(codes, offset, step);
    }

    private (int Slot, float Score)[] Rerank(DistanceKernels kernels, float[] queries, int offset, (int Slot, float Score)[] candidates, int k)
    {
        int d = Dimension;
        var heap = new TopK(k);
        fixed (float* query = &queries[offset])
        {
            foreach (var (slot, _) in candidates)
            {
                float* x = (float*)_originals.Pointer + (long)slot * d;
                float s = kernels.Dot(query, x, d);
                heap.Push(Metric == Metric.L2 ? 2 * s - kernels.Dot(x, x, d) : s, slot);
            }
        }
        return heap.ToSorted();
    }

    private void ScanTile(DistanceKernels kernels, float[] q, QuantizedQueries? qq, int nq, int g0, int g1, int b0, int b1, TopK[] heaps, bool[]? deleted)
    {
        int dp = PaddedDimension;
        const int G = FlatKernels.QueryGroup;
        // A database chunk of ~256 KB stays in L2 while every query group of the tile passes over it.
        int chunk = (int)Math.Max(2, (256 * 1024) / BlockBytes) & ~1;
        float* scratch = Encoding == FlatEncoding.Float16 ? (float*)NativeMemory.AlignedAlloc((nuint)(chunk * Lanes * dp * 4), 64) : null;
        float* o = stackalloc float[G * 32 + 16];
        o = (float*)(((nint)o + 63) & ~63);
        int slots = Items.Slots;
        bool l2 = Metric == Metric.L2;
        try
        {
            fixed (float* qf = q)
            fixed (sbyte* qi = qq?.Codes)
            {
                for (int c0 = b0; c0 < b1; c0 += chunk)
                {
                    int c1 = Math.Min(b1, c0 + chunk);
                    byte* basePtr = _data.Pointer + c0 * BlockBytes;
                    long blockStride = BlockBytes;
                    if (scratch is not null)
                    {
                        TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(basePtr, (c1 - c0) * Lanes * dp), new Span<float>(scratch, (c1 - c0) * Lanes * dp));
                        basePtr = (byte*)scratch;
                        blockStride = (long)Lanes * dp * 4;
                    }
                    for (int g = g0; g < g1; g++)
                    {
                        var gh = heaps.AsSpan((g - g0) * G, G);
                        int live = Math.Min(G, nq - g * G);
                        for (int b = c0; b < c1; b += 2)
                        {
                            bool two = b + 1 < c1;
                            byte* pa = basePtr + (b - c0) * blockStride;
                            byte* pb = two ? pa + blockStride : pa;
                            if (live == G)
                            {
                                if (qq is null) kernels.DotBlocks8(qf + (long)g * G * dp, dp, dp, (float*)pa, (float*)pb, o);
                                else FlatKernels.I8x8(qi + (long)g * G * dp, dp, pa, pb, (int*)o);
                            }
                            else
                            {
                                for (int r = 0; r < live; r++)
                                {
                                    if (qq is null) kernels.DotBlocks1(qf + ((long)g * G + r) * dp, dp, (float*)pa, (float*)pb, o + r * 32);
                                    else
                                    {
                                        FlatKernels.I8x1(qi + ((long)g * G + r) * dp, dp, pa, (int*)o + r * 32);
                                        if (two) FlatKernels.I8x1(qi + ((long)g * G + r) * dp, dp, pb, (int*)o + r * 32 + 16);
                                    }
                                }
                            }
                            for (int half = 0; half < (two ? 2 : 1); half++)
                            {
                                int baseSlot = (b + half) * Lanes;
                                int valid = Math.Min(Lanes, slots - baseSlot);
                                for (int r = 0; r < live; r++)
                                {
                                    float* s = o + r * 32 + half * 16;
                                    if (qq is not null)
                                    {
                                        int query = g * G + r;
                                        float off = qq.Offset[query], st = qq.Step[query];
                                        if (Vector512.IsHardwareAccelerated)
                                            Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(Vector512.Load((int*)s)), Vector512.Create(st), Vector512.Create(off)).Store(s);
                                        else
                                            for (int l = 0; l < Lanes; l++) s[l] = off + st * ((int*)s)[l];
                                    }
                                    if (l2) for (int l = 0; l < valid; l++) s[l] = 2 * s[l] - _norms[baseSlot + l];
                                    FlatKernels.Emit(s, gh[r], baseSlot, valid, deleted);
                                }
                            }
                        }
                    }
                }
            }
        }
        finally
        {
            if (scratch is not null) NativeMemory.AlignedFree(scratch);
        }
    }

    private protected override void WriteData(string directory, long generation, Dictionary<string, IndexFileEntry> files)
    {
        files["vectors"] = IndexDataFile.Write(directory, IndexDirectory.FileName("vectors", generation), _data.WriteTo);
        if (Encoding == FlatEncoding.Int8 && _min is not null)
        {
            files["quantizer"] = IndexDataFile.Write(directory, IndexDirectory.FileName("quantizer", generation), s =>
            {
                s.Write(MemoryMarshal.AsBytes(_min.AsSpan()));
                s.Write(MemoryMarshal.AsBytes(_scale.AsSpan()));
            });
            files["originals"] = IndexDataFile.Write(directory, IndexDirectory.FileName("originals", generation), _originals.WriteTo);
        }
    }

    private protected override JsonObject Parameters() => new()
    {
        ["layout"] = Encoding == FlatEncoding.Int8 ? "blocks16-d4-u8" : Encoding == FlatEncoding.Float16 ? "blocks16-f16" : "blocks16-f32",
        ["padded_dimension"] = PaddedDimension,
    };

    internal static FlatIndex Open(string directory, IndexManifest m, Metric metric, ItemStore items, bool verify)
    {
        var encoding = m.Kind switch { KindF16 => FlatEncoding.Float16, KindInt8 => FlatEncoding.Int8, _ => FlatEncoding.Float32 };
        var vectors = RequireFile(m, directory, "vectors");
        var mapped = IndexDataFile.Map(directory, vectors, verify);
        var index = new FlatIndex(m.Dimension, metric, encoding, items, new NativeBuffer(mapped, IndexDataFile.HeaderBytes, vectors.Bytes));
        try
        {
            if (vectors.Bytes != index.Blocks * index.BlockBytes)
                throw new InputFormatException($"{Path.Combine(directory, vectors.Name)}: holds {vectors.Bytes} bytes, expected {index.Blocks * index.BlockBytes} for {items.Slots} vectors of dimension {m.Dimension}");
            int dp = index.PaddedDimension;
            if (encoding == FlatEncoding.Int8 && items.Slots > 0)
            {
                var qe = RequireFile(m, directory, "quantizer");
                using var qf = IndexDataFile.Map(directory, qe, verify);
                if (qe.Bytes != 2L * dp * 4) throw new InputFormatException($"{Path.Combine(directory, qe.Name)}: holds {qe.Bytes} bytes, expected {2 * dp * 4}");
                index._min = new ReadOnlySpan<float>(qf.Pointer + IndexDataFile.HeaderBytes, dp).ToArray();
                index._scale = new ReadOnlySpan<float>(qf.Pointer + IndexDataFile.HeaderBytes + dp * 4, dp).ToArray();
                for (int j = 0; j < m.Dimension; j++)
                    if (!float.IsFinite(index._min[j]) || !float.IsFinite(index._scale[j]) || index._scale[j] < 0)
                        throw new InputFormatException($"{Path.Combine(directory, qe.Name)}: dimension {j} has min {index._min[j].ToString(System.Globalization.CultureInfo.InvariantCulture)} and scale {index._scale[j].ToString(System.Globalization.CultureInfo.InvariantCulture)}; expected finite values and a non-negative scale (the file is damaged)");
                var oe = RequireFile(m, directory, "originals");
                if (oe.Bytes != (long)items.Slots * m.Dimension * 4)
                    throw new InputFormatException($"{Path.Combine(directory, oe.Name)}: holds {oe.Bytes} bytes, expected {(long)items.Slots * m.Dimension * 4}");
                index._originals.Dispose();
                index._originals = new NativeBuffer(IndexDataFile.Map(directory, oe, verify), IndexDataFile.HeaderBytes, oe.Bytes);
            }
            if (metric == Metric.L2) index.RecomputeNorms();
            return index;
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    private void RecomputeNorms()
    {
        int n = Items.Slots, d = Dimension;
        _norms = new float[n];
        var v = new float[d];
        for (int slot = 0; slot < n; slot++)
        {
            Reconstruct(slot, v);
            _norms[slot] = SquaredNorm(v);
        }
    }

    /// <summary>The stored (for int8/f16: decoded) vector of a slot.</summary>
    internal override void GetVector(int slot, Span<float> v) => Reconstruct(slot, v);

    internal void Reconstruct(int slot, Span<float> v)
    {
        byte* block = _data.Pointer + slot / Lanes * BlockBytes;
        int lane = slot % Lanes;
        for (int j = 0; j < Dimension; j++)
            v[j] = Encoding switch
            {
                FlatEncoding.Float32 => ((float*)block)[j * Lanes + lane],
                FlatEncoding.Float16 => (float)((Half*)block)[j * Lanes + lane],
                _ => _min![j] + _scale![j] * block[(j >> 2) * 64 + lane * 4 + (j & 3)],
            };
    }

    public override void Dispose()
    {
        _data.Dispose();
        _originals.Dispose();
    }
}
