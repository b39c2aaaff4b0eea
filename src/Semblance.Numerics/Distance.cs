// Distance kernels for vector search: inner product, squared Euclidean distance and cosine between two vectors, and
// inner products of queries with blocks of 16 stored vectors laid out dimension-major ([d][16], so 16 vectors fill
// one Vector512 and no horizontal sums are needed). Vector512, Vector256, Vector128 and scalar tiers, chosen like
// Gemm's (SEMBLANCE_SIMD caps the tier, Simd.Force restricts it per thread for tests).
//
// Rounding: the pairwise kernels split the sum over several accumulators (the split depends on the tier), so tiers
// agree to float rounding. The eight-query block kernel computes every output as one FMA chain over the dimensions
// in order, the one-query kernel as an even-dimension chain plus an odd-dimension chain (a lone query is latency
// bound), each the same in every tier: each form is bitwise identical across tiers, the two forms agree to rounding.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Semblance.Numerics;

/// <summary>Pairwise distances on spans, on the widest tier this thread may use.</summary>
internal static unsafe class Distance
{
    /// <summary>Σ a_i·b_i.</summary>
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        CheckLengths(a, b);
        fixed (float* pa = a, pb = b) return DistanceKernels.ForCurrentThread.Dot(pa, pb, a.Length);
    }

    /// <summary>Σ (a_i − b_i)².</summary>
    public static float SquaredL2(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        CheckLengths(a, b);
        fixed (float* pa = a, pb = b) return DistanceKernels.ForCurrentThread.SquaredL2(pa, pb, a.Length);
    }

    /// <summary>a·b / (‖a‖·‖b‖); 0 when either vector is all zeros.</summary>
    public static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        CheckLengths(a, b);
        fixed (float* pa = a, pb = b) return DistanceKernels.ForCurrentThread.Cosine(pa, pb, a.Length);
    }

    private static void CheckLengths(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"vectors have lengths {a.Length} and {b.Length}; expected equal lengths");
    }
}

/// <summary>
/// The distance kernels of one SIMD tier. Take <see cref="ForCurrentThread"/> once per search (on the calling thread)
/// and hand it to workers, so a hot loop pays for no tier lookup and every worker runs the same tier.
/// </summary>
internal readonly unsafe struct DistanceKernels
{
    /// <summary>Stored vectors per block of the block kernels.</summary>
    public const int BlockLanes = 16;

    /// <summary>Queries per call of <see cref="DotBlocks8"/>.</summary>
    public const int QueryGroup = 8;

    private readonly SimdLevel _level;

    private DistanceKernels(SimdLevel level) => _level = level;

    /// <summary>The widest tier this thread may use (hardware, SEMBLANCE_SIMD and test overrides).</summary>
    public static DistanceKernels ForCurrentThread => new(Simd.Current);

    /// <summary>The tier's name (Vector512, Vector256, Vector128 or Scalar), for benchmarks and bug reports.</summary>
    public string Tier => _level.ToString();

    /// <summary>Σ a_i·b_i over n floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Dot(float* a, float* b, int n) => Reduce<DotTerm>(a, b, n);

    /// <summary>Σ (a_i − b_i)² over n floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float SquaredL2(float* a, float* b, int n) => Reduce<SquaredDifferenceTerm>(a, b, n);

    /// <summary>
    /// Σ q_i·v_i for four vectors v = a, b, c, d into o[0..4), each bitwise equal to <see cref="Dot"/>(q, v, n): one pass
    /// loads each piece of q once for all four, and the four independent sums overlap (a graph search's neighbours).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Dot4(float* q, float* a, float* b, float* c, float* d, int n, float* o) => Reduce4<DotTerm>(q, a, b, c, d, n, o);

    /// <summary>Σ (q_i − v_i)² for four vectors into o[0..4), each bitwise equal to <see cref="SquaredL2"/>(q, v, n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SquaredL2x4(float* q, float* a, float* b, float* c, float* d, int n, float* o) => Reduce4<SquaredDifferenceTerm>(q, a, b, c, d, n, o);

    /// <summary>a·b / (‖a‖·‖b‖) over n floats, the norms taken by the same kernel; 0 when either vector is all zeros.</summary>
    public float Cosine(float* a, float* b, int n)
    {
        float ab = Dot(a, b, n), aa = Dot(a, a, n), bb = Dot(b, b, n);
        return aa == 0 || bb == 0 ? 0 : (float)(ab / (Math.Sqrt(aa) * Math.Sqrt(bb)));
    }

    /// <summary>
    /// Asks the memory system for the n floats at p (every 64-byte line, into all cache levels) without waiting for
    /// them, so a distance computed a little later finds them in cache. Does nothing where x86 prefetch is missing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(float* p, int n)
    {
        if (!Sse.IsSupported) return;
        byte* b = (byte*)p, end = (byte*)(p + n);
        for (; b < end; b += 64) Sse.Prefetch0(b);
    }

    /// <summary>
    /// Inner products of 8 queries (rows of <paramref name="q"/>, <paramref name="queryStride"/> floats apart, d used)
    /// with two blocks of 16 stored vectors laid out [d][16]: o[r·32 + l] = q_r·a_l and o[r·32 + 16 + l] = q_r·b_l.
    /// Blocks must be 64-byte aligned for the Vector512 tier.
    /// </summary>
    public void DotBlocks8(float* q, int queryStride, int d, float* a, float* b, float* o)
    {
        switch (_level)
        {
            case SimdLevel.Vector512:
                Blocks8x512(q, queryStride, d, a, b, o);
                break;
            case SimdLevel.Vector256:
                for (int r = 0; r < QueryGroup; r += 2) Blocks2x256(q + r * queryStride, queryStride, d, a, b, o + r * 32);
                break;
            case SimdLevel.Vector128:
                for (int r = 0; r < QueryGroup; r++) Blocks1Chain128(q + r * queryStride, d, a, b, o + r * 32);
                break;
            default:
                for (int r = 0; r < QueryGroup; r++) Blocks1Chain(q + r * queryStride, d, a, b, o + r * 32);
                break;
        }
    }

    /// <summary>
    /// Inner products of one query with two blocks of 16 stored vectors: o[l] = q·a_l, o[16 + l] = q·b_l. Each output
    /// is the sum of two FMA chains (even and odd dimensions), which halves the latency a lone query waits on.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void DotBlocks1(float* q, int d, float* a, float* b, float* o)
    {
        switch (_level)
        {
            case SimdLevel.Vector512: Block1x512(q, d, a, o); Block1x512(q, d, b, o + 16); break;
            case SimdLevel.Vector256: Block1x256(q, d, a, o); Block1x256(q, d, b, o + 16); break;
            case SimdLevel.Vector128: Block1x128(q, d, a, o); Block1x128(q, d, b, o + 16); break;
            default: Block1Scalar(q, d, a, o); Block1Scalar(q, d, b, o + 16); break;
        }
    }

    [SkipLocalsInit]
    private static void Block1x512(float* q, int d, float* a, float* o)
    {
        Vector512<float> e = default, f = default;
        int j = 0;
        for (; j + 1 < d; j += 2)
        {
            e = Vector512.FusedMultiplyAdd(Vector512.LoadAligned(a + j * BlockLanes), Vector512.Create(q[j]), e);
            f = Vector512.FusedMultiplyAdd(Vector512.LoadAligned(a + (j + 1) * BlockLanes), Vector512.Create(q[j + 1]), f);
        }
        if (j < d) e = Vector512.FusedMultiplyAdd(Vector512.LoadAligned(a + j * BlockLanes), Vector512.Create(q[j]), e);
        (e + f).Store(o);
    }

    [SkipLocalsInit]
    private static void Block1x256(float* q, int d, float* a, float* o)
    {
        Vector256<float> e0 = default, e1 = default, f0 = default, f1 = default;
        int j = 0;
        for (; j + 1 < d; j += 2)
        {
            float* p = a + j * BlockLanes;
            var s = Vector256.Create(q[j]);
            var t = Vector256.Create(q[j + 1]);
            e0 = Vector256.FusedMultiplyAdd(Vector256.Load(p), s, e0);
            e1 = Vector256.FusedMultiplyAdd(Vector256.Load(p + 8), s, e1);
            f0 = Vector256.FusedMultiplyAdd(Vector256.Load(p + BlockLanes), t, f0);
            f1 = Vector256.FusedMultiplyAdd(Vector256.Load(p + BlockLanes + 8), t, f1);
        }
        if (j < d)
        {
            var s = Vector256.Create(q[j]);
            e0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + j * BlockLanes), s, e0);
            e1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + j * BlockLanes + 8), s, e1);
        }
        (e0 + f0).Store(o);
        (e1 + f1).Store(o + 8);
    }

    [SkipLocalsInit]
    private static void Block1x128(float* q, int d, float* a, float* o)
    {
        for (int part = 0; part < BlockLanes; part += 8)
        {
            Vector128<float> e0 = default, e1 = default, f0 = default, f1 = default;
            int j = 0;
            for (; j + 1 < d; j += 2)
            {
                float* p = a + j * BlockLanes + part;
                var s = Vector128.Create(q[j]);
                var t = Vector128.Create(q[j + 1]);
                e0 = Vector128.FusedMultiplyAdd(Vector128.Load(p), s, e0);
                e1 = Vector128.FusedMultiplyAdd(Vector128.Load(p + 4), s, e1);
                f0 = Vector128.FusedMultiplyAdd(Vector128.Load(p + BlockLanes), t, f0);
                f1 = Vector128.FusedMultiplyAdd(Vector128.Load(p + BlockLanes + 4), t, f1);
            }
            if (j < d)
            {
                var s = Vector128.Create(q[j]);
                e0 = Vector128.FusedMultiplyAdd(Vector128.Load(a + j * BlockLanes + part), s, e0);
                e1 = Vector128.FusedMultiplyAdd(Vector128.Load(a + j * BlockLanes + part + 4), s, e1);
            }
            (e0 + f0).Store(o + part);
            (e1 + f1).Store(o + part + 4);
        }
    }

    private static void Block1Scalar(float* q, int d, float* a, float* o)
    {
        for (int l = 0; l < BlockLanes; l++)
        {
            float e = 0, f = 0;
            int j = 0;
            for (; j + 1 < d; j += 2)
            {
                e = MathF.FusedMultiplyAdd(a[j * BlockLanes + l], q[j], e);
                f = MathF.FusedMultiplyAdd(a[(j + 1) * BlockLanes + l], q[j + 1], f);
            }
            if (j < d) e = MathF.FusedMultiplyAdd(a[j * BlockLanes + l], q[j], e);
            o[l] = e + f;
        }
    }

    /// <summary>One query of the eight-query form on 128-bit vectors: one chain per output, as in every tier of that form.</summary>
    [SkipLocalsInit]
    private static void Blocks1Chain128(float* q, int d, float* a, float* b, float* o)
    {
        Vector128<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        for (int j = 0; j < d; j++)
        {
            var s = Vector128.Create(q[j]);
            float* pa = a + j * BlockLanes, pb = b + j * BlockLanes;
            a0 = Vector128.FusedMultiplyAdd(Vector128.Load(pa), s, a0);
            a1 = Vector128.FusedMultiplyAdd(Vector128.Load(pa + 4), s, a1);
            a2 = Vector128.FusedMultiplyAdd(Vector128.Load(pa + 8), s, a2);
            a3 = Vector128.FusedMultiplyAdd(Vector128.Load(pa + 12), s, a3);
            b0 = Vector128.FusedMultiplyAdd(Vector128.Load(pb), s, b0);
            b1 = Vector128.FusedMultiplyAdd(Vector128.Load(pb + 4), s, b1);
            b2 = Vector128.FusedMultiplyAdd(Vector128.Load(pb + 8), s, b2);
            b3 = Vector128.FusedMultiplyAdd(Vector128.Load(pb + 12), s, b3);
        }
        a0.Store(o); a1.Store(o + 4); a2.Store(o + 8); a3.Store(o + 12);
        b0.Store(o + 16); b1.Store(o + 20); b2.Store(o + 24); b3.Store(o + 28);
    }

    /// <summary>One query of the eight-query form in scalar code: one chain per output.</summary>
    private static void Blocks1Chain(float* q, int d, float* a, float* b, float* o)
    {
        for (int l = 0; l < BlockLanes; l++)
        {
            float sa = 0, sb = 0;
            for (int j = 0; j < d; j++)
            {
                sa = MathF.FusedMultiplyAdd(a[j * BlockLanes + l], q[j], sa);
                sb = MathF.FusedMultiplyAdd(b[j * BlockLanes + l], q[j], sb);
            }
            o[l] = sa;
            o[16 + l] = sb;
        }
    }

    [SkipLocalsInit]
    private static void Blocks8x512(float* q, int dp, int d, float* a, float* b, float* o)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default, b6 = default, b7 = default;
        float* q1 = q + dp, q2 = q1 + dp, q3 = q2 + dp, q4 = q3 + dp, q5 = q4 + dp, q6 = q5 + dp, q7 = q6 + dp;
        for (int j = 0; j < d; j++)
        {
            var x = Vector512.LoadAligned(a + j * BlockLanes);
            var y = Vector512.LoadAligned(b + j * BlockLanes);
            var s = Vector512.Create(q[j]);
            a0 = Vector512.FusedMultiplyAdd(x, s, a0); b0 = Vector512.FusedMultiplyAdd(y, s, b0);
            s = Vector512.Create(q1[j]);
            a1 = Vector512.FusedMultiplyAdd(x, s, a1); b1 = Vector512.FusedMultiplyAdd(y, s, b1);
            s = Vector512.Create(q2[j]);
            a2 = Vector512.FusedMultiplyAdd(x, s, a2); b2 = Vector512.FusedMultiplyAdd(y, s, b2);
            s = Vector512.Create(q3[j]);
            a3 = Vector512.FusedMultiplyAdd(x, s, a3); b3 = Vector512.FusedMultiplyAdd(y, s, b3);
            s = Vector512.Create(q4[j]);
            a4 = Vector512.FusedMultiplyAdd(x, s, a4); b4 = Vector512.FusedMultiplyAdd(y, s, b4);
            s = Vector512.Create(q5[j]);
            a5 = Vector512.FusedMultiplyAdd(x, s, a5); b5 = Vector512.FusedMultiplyAdd(y, s, b5);
            s = Vector512.Create(q6[j]);
            a6 = Vector512.FusedMultiplyAdd(x, s, a6); b6 = Vector512.FusedMultiplyAdd(y, s, b6);
            s = Vector512.Create(q7[j]);
            a7 = Vector512.FusedMultiplyAdd(x, s, a7); b7 = Vector512.FusedMultiplyAdd(y, s, b7);
        }
        a0.Store(o); b0.Store(o + 16); a1.Store(o + 32); b1.Store(o + 48);
        a2.Store(o + 64); b2.Store(o + 80); a3.Store(o + 96); b3.Store(o + 112);
        a4.Store(o + 128); b4.Store(o + 144); a5.Store(o + 160); b5.Store(o + 176);
        a6.Store(o + 192); b6.Store(o + 208); a7.Store(o + 224); b7.Store(o + 240);
    }

    /// <summary>Two queries × two blocks in 8 ymm accumulators (16 registers hold them, the loads and a broadcast).</summary>
    [SkipLocalsInit]
    private static void Blocks2x256(float* q, int dp, int d, float* a, float* b, float* o)
    {
        Vector256<float> a00 = default, a01 = default, b00 = default, b01 = default;
        Vector256<float> a10 = default, a11 = default, b10 = default, b11 = default;
        float* q1 = q + dp;
        for (int j = 0; j < d; j++)
        {
            float* pa = a + j * BlockLanes, pb = b + j * BlockLanes;
            var x0 = Vector256.Load(pa); var x1 = Vector256.Load(pa + 8);
            var y0 = Vector256.Load(pb); var y1 = Vector256.Load(pb + 8);
            var s = Vector256.Create(q[j]);
            a00 = Vector256.FusedMultiplyAdd(x0, s, a00); a01 = Vector256.FusedMultiplyAdd(x1, s, a01);
            b00 = Vector256.FusedMultiplyAdd(y0, s, b00); b01 = Vector256.FusedMultiplyAdd(y1, s, b01);
            s = Vector256.Create(q1[j]);
            a10 = Vector256.FusedMultiplyAdd(x0, s, a10); a11 = Vector256.FusedMultiplyAdd(x1, s, a11);
            b10 = Vector256.FusedMultiplyAdd(y0, s, b10); b11 = Vector256.FusedMultiplyAdd(y1, s, b11);
        }
        a00.Store(o); a01.Store(o + 8); b00.Store(o + 16); b01.Store(o + 24);
        a10.Store(o + 32); a11.Store(o + 40); b10.Store(o + 48); b11.Store(o + 56);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float Reduce<T>(float* a, float* b, int n) where T : struct, IPairTerm => _level switch
    {
        SimdLevel.Vector512 => Reduce512<T>(a, b, n),
        SimdLevel.Vector256 => Reduce256<T>(a, b, n),
        SimdLevel.Vector128 => Reduce128<T>(a, b, n),
        _ => ReduceScalar<T>(a, b, 0, n, 0),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Reduce4<T>(float* q, float* a, float* b, float* c, float* d, int n, float* o) where T : struct, IPairTerm
    {
        if (_level == SimdLevel.Vector512)
        {
            Reduce4x512<T>(q, a, b, c, d, n, o);
            return;
        }
        o[0] = Reduce<T>(q, a, n);
        o[1] = Reduce<T>(q, b, n);
        o[2] = Reduce<T>(q, c, n);
        o[3] = Reduce<T>(q, d, n);
    }

    /// <summary>
    /// <see cref="Reduce512{T}"/> for four vectors at once: the same two accumulators per vector fed in the same order
    /// (bitwise equal results); each piece of q is loaded once for the four.
    /// </summary>
    [SkipLocalsInit]
    private static void Reduce4x512<T>(float* q, float* a, float* b, float* c, float* d, int n, float* o) where T : struct, IPairTerm
    {
        Vector512<float> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default;
        int j = 0;
        for (; j + 32 <= n; j += 32)
        {
            var x = Vector512.Load(q + j);
            var y = Vector512.Load(q + j + 16);
            a0 = T.Add(x, Vector512.Load(a + j), a0); a1 = T.Add(y, Vector512.Load(a + j + 16), a1);
            b0 = T.Add(x, Vector512.Load(b + j), b0); b1 = T.Add(y, Vector512.Load(b + j + 16), b1);
            c0 = T.Add(x, Vector512.Load(c + j), c0); c1 = T.Add(y, Vector512.Load(c + j + 16), c1);
            d0 = T.Add(x, Vector512.Load(d + j), d0); d1 = T.Add(y, Vector512.Load(d + j + 16), d1);
        }
        if (j + 16 <= n)
        {
            var x = Vector512.Load(q + j);
            a0 = T.Add(x, Vector512.Load(a + j), a0);
            b0 = T.Add(x, Vector512.Load(b + j), b0);
            c0 = T.Add(x, Vector512.Load(c + j), c0);
            d0 = T.Add(x, Vector512.Load(d + j), d0);
            j += 16;
        }
        o[0] = ReduceScalar<T>(q, a, j, n, Vector512.Sum(a0 + a1));
        o[1] = ReduceScalar<T>(q, b, j, n, Vector512.Sum(b0 + b1));
        o[2] = ReduceScalar<T>(q, c, j, n, Vector512.Sum(c0 + c1));
        o[3] = ReduceScalar<T>(q, d, j, n, Vector512.Sum(d0 + d1));
    }

    /// <summary>One term of a pairwise sum (acc + t(a, b)) at every width; the JIT specialises each reduction for it.</summary>
    private interface IPairTerm
    {
        static abstract Vector512<float> Add(Vector512<float> a, Vector512<float> b, Vector512<float> acc);
        static abstract Vector256<float> Add(Vector256<float> a, Vector256<float> b, Vector256<float> acc);
        static abstract Vector128<float> Add(Vector128<float> a, Vector128<float> b, Vector128<float> acc);
        static abstract float Add(float a, float b, float acc);
    }

    private readonly struct DotTerm : IPairTerm
    {
        public static Vector512<float> Add(Vector512<float> a, Vector512<float> b, Vector512<float> acc) => Vector512.FusedMultiplyAdd(a, b, acc);
        public static Vector256<float> Add(Vector256<float> a, Vector256<float> b, Vector256<float> acc) => Vector256.FusedMultiplyAdd(a, b, acc);
        public static Vector128<float> Add(Vector128<float> a, Vector128<float> b, Vector128<float> acc) => Vector128.FusedMultiplyAdd(a, b, acc);
        public static float Add(float a, float b, float acc) => MathF.FusedMultiplyAdd(a, b, acc);
    }

    private readonly struct SquaredDifferenceTerm : IPairTerm
    {
        public static Vector512<float> Add(Vector512<float> a, Vector512<float> b, Vector512<float> acc) { var d = a - b; return Vector512.FusedMultiplyAdd(d, d, acc); }
        public static Vector256<float> Add(Vector256<float> a, Vector256<float> b, Vector256<float> acc) { var d = a - b; return Vector256.FusedMultiplyAdd(d, d, acc); }
        public static Vector128<float> Add(Vector128<float> a, Vector128<float> b, Vector128<float> acc) { var d = a - b; return Vector128.FusedMultiplyAdd(d, d, acc); }
        public static float Add(float a, float b, float acc) { float d = a - b; return MathF.FusedMultiplyAdd(d, d, acc); }
    }

    /// <summary>Two 16-lane accumulators (32 floats per step), one more 16-float step, then a scalar tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Reduce512<T>(float* a, float* b, int n) where T : struct, IPairTerm
    {
        Vector512<float> s0 = default, s1 = default;
        int j = 0;
        for (; j + 32 <= n; j += 32)
        {
            s0 = T.Add(Vector512.Load(a + j), Vector512.Load(b + j), s0);
            s1 = T.Add(Vector512.Load(a + j + 16), Vector512.Load(b + j + 16), s1);
        }
        if (j + 16 <= n)
        {
            s0 = T.Add(Vector512.Load(a + j), Vector512.Load(b + j), s0);
            j += 16;
        }
        return ReduceScalar<T>(a, b, j, n, Vector512.Sum(s0 + s1));
    }

    /// <summary>Four 8-lane accumulators (the FMA latency of two ports), 8-float steps, then a scalar tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Reduce256<T>(float* a, float* b, int n) where T : struct, IPairTerm
    {
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int j = 0;
        for (; j + 32 <= n; j += 32)
        {
            s0 = T.Add(Vector256.Load(a + j), Vector256.Load(b + j), s0);
            s1 = T.Add(Vector256.Load(a + j + 8), Vector256.Load(b + j + 8), s1);
            s2 = T.Add(Vector256.Load(a + j + 16), Vector256.Load(b + j + 16), s2);
            s3 = T.Add(Vector256.Load(a + j + 24), Vector256.Load(b + j + 24), s3);
        }
        for (; j + 8 <= n; j += 8) s0 = T.Add(Vector256.Load(a + j), Vector256.Load(b + j), s0);
        return ReduceScalar<T>(a, b, j, n, Vector256.Sum((s0 + s1) + (s2 + s3)));
    }

    /// <summary>Two 4-lane accumulators, enough for the 128-bit units this tier runs on (ARM64, older x86).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Reduce128<T>(float* a, float* b, int n) where T : struct, IPairTerm
    {
        Vector128<float> s0 = default, s1 = default;
        int j = 0;
        for (; j + 8 <= n; j += 8)
        {
            s0 = T.Add(Vector128.Load(a + j), Vector128.Load(b + j), s0);
            s1 = T.Add(Vector128.Load(a + j + 4), Vector128.Load(b + j + 4), s1);
        }
        for (; j + 4 <= n; j += 4) s0 = T.Add(Vector128.Load(a + j), Vector128.Load(b + j), s0);
        return ReduceScalar<T>(a, b, j, n, Vector128.Sum(s0 + s1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ReduceScalar<T>(float* a, float* b, int from, int n, float sum) where T : struct, IPairTerm
    {
        for (int j = from; j < n; j++) sum = T.Add(a[j], b[j], sum);
        return sum;
    }
}
