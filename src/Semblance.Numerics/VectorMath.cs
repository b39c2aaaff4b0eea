// Vectorised erf, exact GELU, tanh-GELU and softmax's exponentials for each SIMD tier; used by Kernels and the GEMM epilogue.
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Semblance.Numerics;

/// <summary>
/// erf from two fits made for this file (Chebyshev fits in 40-digit arithmetic, max fit error &lt; 2e-9):
/// for |z| &lt; 1, erf(z) = z·P(z²) with P of degree 6, evaluated as z + z·(P(z²) − 1) so the leading term
/// is exact and the result is rounded once; for |z| ≥ 1, erfc(z) = t·e^(−z²)·Q(s), with t = 1/(1 + z/2),
/// s = 4.125·t − 1.75 (maps z ∈ [1, 9] onto [−1, 1]) and Q of degree 8. Beyond |z| = 9, erfc &lt; 1e−36 is 0.
/// Measured |erf error| ≤ 6.5e−8 on every tier.
/// </summary>
/// <remarks>
/// Working with erfc in the tail keeps Φ(x) = ½·erfc(−x/√2) accurate in relative terms for negative x, where
/// 1 + erf(x/√2) would cancel. e^(−z²) (own float exp, <see cref="ExpNeg(float, float)"/>) takes z² = hi + lo
/// split exactly by an FMA (for GELU from x²/2, not (x/√2)²), so the exponent carries no rounding of z²:
/// at z = 8 a single rounding of z² would cost 8e−6 relative error in erfc.
/// </remarks>
internal static class VectorMath
{
    private const float InvSqrt2 = 0.70710678118654752f;
    private const float TailStart = 1f;
    private const float TailEnd = 9f;
    private const float SqrtTwoOverPi = 0.79788456080286536f;
    private const float GeluTanhCubic = 0.044715f;

    private const float P6 = 7.87587506269e-5f, P5 = -0.000801686428717f, P4 = 0.00518908742343f, P3 = -0.0268542120106f,
        P2 = 0.112835947152f, P1 = -0.376126266667f, R0 = 0.12837916585f;

    private const float Q8 = -5.83520724978e-7f, Q7 = 4.43910273729e-6f, Q6 = 1.16333740414e-5f, Q5 = -0.000117051567828f,
        Q4 = -0.000432776394481f, Q3 = 0.00272367745513f, Q2 = 0.0305827967546f, Q1 = 0.146730376739f, Q0 = 0.461872852839f;

    private const float SScale = 4.125f, SOffset = -1.75f;

    // e^r on |r| ≤ ln2/2, degree-6 Chebyshev fit (max error 2e-9), and ln 2 split so that n·Ln2Hi is exact for |n| < 2^8.
    private const float E6 = 0.0013941108434f, E5 = 0.00837512639815f, E4 = 0.0416663528968f, E3 = 0.166664155147f,
        E2 = 0.500000004712f, E1 = 1.00000003772f, E0 = 1f;
    private const float Log2E = 1.44269504088896341f, Ln2Hi = 0.693145751953125f, Ln2Lo = 1.42860682031e-6f;

    public static void Apply(SimdLevel level, Activation activation, ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.IsEmpty) return;
        switch (activation)
        {
            case Activation.None:
                if (!Unsafe.AreSame(ref Unsafe.AsRef(in x[0]), ref y[0])) x.CopyTo(y);
                break;
            case Activation.Gelu:
                Map<GeluOp>(level, x, y);
                break;
            case Activation.GeluTanh:
                Map<GeluTanhOp>(level, x, y);
                break;
            case Activation.Relu:
                TensorPrimitives.Max(x, 0f, y);
                break;
            case Activation.Tanh:
                TensorPrimitives.Tanh(x, y);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, "unknown activation");
        }
    }

    /// <summary>y[i] = op(x[i]) on the widest allowed tier; a ragged tail runs through the same vector code via a padded copy.</summary>
    public static void Map<TOp>(SimdLevel level, ReadOnlySpan<float> x, Span<float> y) where TOp : struct, IUnaryOp
    {
        if (y.Length < x.Length) throw new ArgumentException($"destination has {y.Length} values, expected at least {x.Length}", nameof(y));
        ref float xs = ref Unsafe.AsRef(in System.Runtime.InteropServices.MemoryMarshal.GetReference(x));
        ref float ys = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        if (level == SimdLevel.Vector512)
        {
            for (; i + 16 <= n; i += 16)
                TOp.Invoke(Vector512.LoadUnsafe(ref xs, (nuint)i)).StoreUnsafe(ref ys, (nuint)i);
            if (i < n)
            {
                Span<float> pad = stackalloc float[16];
                x[i..].CopyTo(pad);
                TOp.Invoke(Vector512.Create<float>(pad)).CopyTo(pad);
                pad[..(n - i)].CopyTo(y[i..]);
            }
        }
        else if (level == SimdLevel.Vector256)
        {
            for (; i + 8 <= n; i += 8)
                TOp.Invoke(Vector256.LoadUnsafe(ref xs, (nuint)i)).StoreUnsafe(ref ys, (nuint)i);
            if (i < n)
            {
                Span<float> pad = stackalloc float[8];
                x[i..].CopyTo(pad);
                TOp.Invoke(Vector256.Create<float>(pad)).CopyTo(pad);
                pad[..(n - i)].CopyTo(y[i..]);
            }
        }
        else
        {
            // Vector128 shares the scalar code: the 128-bit tier exists for the GEMM kernels only.
            for (; i < n; i++) Unsafe.Add(ref ys, i) = TOp.Invoke(Unsafe.Add(ref xs, i));
        }
    }

    internal interface IUnaryOp
    {
        static abstract Vector512<float> Invoke(Vector512<float> x);
        static abstract Vector256<float> Invoke(Vector256<float> x);
        static abstract float Invoke(float x);
    }

    internal struct ErfOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> x)
        {
            var z = Vector512.Abs(x);
            var z2 = z * z;
            var (small, erfSmall, erfcTail) = ErfParts(z, z2, Vector512.FusedMultiplyAdd(z, z, -z2));
            var magnitude = Vector512.ConditionalSelect(small, erfSmall, Vector512<float>.One - erfcTail);
            return Vector512.ConditionalSelect(Vector512.IsNaN(x), x, Vector512.CopySign(magnitude, x));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> x)
        {
            var z = Vector256.Abs(x);
            var z2 = z * z;
            var (small, erfSmall, erfcTail) = ErfParts(z, z2, Vector256.FusedMultiplyAdd(z, z, -z2));
            var magnitude = Vector256.ConditionalSelect(small, erfSmall, Vector256<float>.One - erfcTail);
            return Vector256.ConditionalSelect(Vector256.IsNaN(x), x, Vector256.CopySign(magnitude, x));
        }

        public static float Invoke(float x)
        {
            if (float.IsNaN(x)) return x;
            float z = MathF.Abs(x);
            float z2 = z * z;
            float magnitude = z < TailStart ? ErfSmall(z, z2) : 1f - ErfcTail(z, z2, MathF.FusedMultiplyAdd(z, z, -z2));
            return MathF.CopySign(magnitude, x);
        }
    }

    /// <summary>Exact GELU: x·Φ(x) = x·½·(1 + erf(x/√2)).</summary>
    internal struct GeluOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> x)
        {
            var half = Vector512.Create(0.5f);
            var z = Vector512.Abs(x) * Vector512.Create(InvSqrt2);
            var x2 = x * x;
            // Most pre-activations of a trained network lie within |x| < √2: when a whole vector does, the erfc
            // branch (a division and an exponential) is skipped; the lanes get the very operations the select keeps.
            if (Vector512.LessThanAll(z, Vector512.Create(TailStart)))
            {
                var e = ErfSmall(z, x2 * half);
                return x * Vector512.FusedMultiplyAdd(half, Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), -e, e), half);
            }
            var (small, erfSmall, erfcTail) = ErfParts(z, x2 * half, Vector512.FusedMultiplyAdd(x, x, -x2) * half);
            var negative = Vector512.LessThan(x, Vector512<float>.Zero);
            var signedErf = Vector512.ConditionalSelect(negative, -erfSmall, erfSmall);
            var phiSmall = Vector512.FusedMultiplyAdd(half, signedErf, half);
            var halfErfc = half * erfcTail;
            var phiTail = Vector512.ConditionalSelect(negative, halfErfc, Vector512<float>.One - halfErfc);
            return x * Vector512.ConditionalSelect(small, phiSmall, phiTail);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> x)
        {
            var half = Vector256.Create(0.5f);
            var z = Vector256.Abs(x) * Vector256.Create(InvSqrt2);
            var x2 = x * x;
            var (small, erfSmall, erfcTail) = ErfParts(z, x2 * half, Vector256.FusedMultiplyAdd(x, x, -x2) * half);
            var negative = Vector256.LessThan(x, Vector256<float>.Zero);
            var signedErf = Vector256.ConditionalSelect(negative, -erfSmall, erfSmall);
            var phiSmall = Vector256.FusedMultiplyAdd(half, signedErf, half);
            var halfErfc = half * erfcTail;
            var phiTail = Vector256.ConditionalSelect(negative, halfErfc, Vector256<float>.One - halfErfc);
            return x * Vector256.ConditionalSelect(small, phiSmall, phiTail);
        }

        public static float Invoke(float x)
        {
            float z = MathF.Abs(x) * InvSqrt2;
            float x2 = x * x;
            float phi;
            if (z < TailStart)
            {
                float e = ErfSmall(z, 0.5f * x2);
                phi = MathF.FusedMultiplyAdd(0.5f, x < 0 ? -e : e, 0.5f);
            }
            else
            {
                float halfErfc = 0.5f * ErfcTail(z, 0.5f * x2, 0.5f * MathF.FusedMultiplyAdd(x, x, -x2));
                phi = x < 0 ? halfErfc : 1f - halfErfc;
            }
            return x * phi;
        }
    }

    /// <summary>GELU with the tanh approximation, as x·σ(2u) = x / (1 + e^(−2u)), u = √(2/π)·(x + 0.044715·x³): no cancellation at either end.</summary>
    internal struct GeluTanhOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(Vector512<float> x)
        {
            var x2 = x * x;
            var u = x * Vector512.FusedMultiplyAdd(x2, Vector512.Create(GeluTanhCubic * SqrtTwoOverPi), Vector512.Create(SqrtTwoOverPi));
            return x / (Vector512<float>.One + Vector512.Exp(Vector512.Create(-2f) * u));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(Vector256<float> x)
        {
            var x2 = x * x;
            var u = x * Vector256.FusedMultiplyAdd(x2, Vector256.Create(GeluTanhCubic * SqrtTwoOverPi), Vector256.Create(SqrtTwoOverPi));
            return x / (Vector256<float>.One + Vector256.Exp(Vector256.Create(-2f) * u));
        }

        public static float Invoke(float x)
        {
            float u = x * MathF.FusedMultiplyAdd(x * x, GeluTanhCubic * SqrtTwoOverPi, SqrtTwoOverPi);
            return x / (1f + MathF.Exp(-2f * u));
        }
    }

    /// <summary>For z ≥ 0 and z² = hi + lo: the mask z &lt; 1, erf(z) by the small-z polynomial, and erfc(z) by the tail form (0 past z = 9).</summary>
    /// <summary>erf(z) for z &lt; <see cref="TailStart"/> from z and u = z², the first half of <see cref="ErfParts(Vector512{float}, Vector512{float}, Vector512{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ErfSmall(Vector512<float> z, Vector512<float> u)
    {
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(P6), u, Vector512.Create(P5));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(R0));
        return Vector512.FusedMultiplyAdd(z, p, z);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float> Small, Vector512<float> ErfSmall, Vector512<float> ErfcTail) ErfParts(Vector512<float> z, Vector512<float> z2Hi, Vector512<float> z2Lo)
    {
        var erfSmall = ErfSmall(z, z2Hi);

        var zc = Vector512.Min(z, Vector512.Create(TailEnd));
        var t = Vector512<float>.One / Vector512.FusedMultiplyAdd(zc, Vector512.Create(0.5f), Vector512<float>.One);
        var s = Vector512.FusedMultiplyAdd(t, Vector512.Create(SScale), Vector512.Create(SOffset));
        var q = Vector512.FusedMultiplyAdd(Vector512.Create(Q8), s, Vector512.Create(Q7));
        q = Vector512.FusedMultiplyAdd(q, s, Vector512.Create(Q6));
        q = Vector512.FusedMultiplyAdd(q, s, Vector512.Create(Q5));
        q = Vector512.FusedMultiplyAdd(q, s, Vector512.Create(Q4));
        q = Vector512.FusedMultiplyAdd(q, s, Vector512.Create(Q3));
        q = Vector512.FusedMultiplyAdd(q, s, Vector512.Create(Q2));
        q = Vector512.FusedMultiplyAdd(q, s, Vector512.Create(Q1));
        q = Vector512.FusedMultiplyAdd(q, s, Vector512.Create(Q0));
        var e = ExpNeg(Vector512.Min(z2Hi, Vector512.Create(TailEnd * TailEnd)), z2Lo);
        var erfc = Vector512.AndNot(t * e * q, Vector512.GreaterThanOrEqual(z, Vector512.Create(TailEnd)));
        return (Vector512.LessThan(z, Vector512.Create(TailStart)), erfSmall, erfc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> Small, Vector256<float> ErfSmall, Vector256<float> ErfcTail) ErfParts(Vector256<float> z, Vector256<float> z2Hi, Vector256<float> z2Lo)
    {
        var u = z2Hi;
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(P6), u, Vector256.Create(P5));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(R0));
        var erfSmall = Vector256.FusedMultiplyAdd(z, p, z);

        var zc = Vector256.Min(z, Vector256.Create(TailEnd));
        var t = Vector256<float>.One / Vector256.FusedMultiplyAdd(zc, Vector256.Create(0.5f), Vector256<float>.One);
        var s = Vector256.FusedMultiplyAdd(t, Vector256.Create(SScale), Vector256.Create(SOffset));
        var q = Vector256.FusedMultiplyAdd(Vector256.Create(Q8), s, Vector256.Create(Q7));
        q = Vector256.FusedMultiplyAdd(q, s, Vector256.Create(Q6));
        q = Vector256.FusedMultiplyAdd(q, s, Vector256.Create(Q5));
        q = Vector256.FusedMultiplyAdd(q, s, Vector256.Create(Q4));
        q = Vector256.FusedMultiplyAdd(q, s, Vector256.Create(Q3));
        q = Vector256.FusedMultiplyAdd(q, s, Vector256.Create(Q2));
        q = Vector256.FusedMultiplyAdd(q, s, Vector256.Create(Q1));
        q = Vector256.FusedMultiplyAdd(q, s, Vector256.Create(Q0));
        var e = ExpNeg(Vector256.Min(z2Hi, Vector256.Create(TailEnd * TailEnd)), z2Lo);
        var erfc = Vector256.AndNot(t * e * q, Vector256.GreaterThanOrEqual(z, Vector256.Create(TailEnd)));
        return (Vector256.LessThan(z, Vector256.Create(TailStart)), erfSmall, erfc);
    }

    private static float ErfSmall(float z, float u)
    {
        float p = MathF.FusedMultiplyAdd(P6, u, P5);
        p = MathF.FusedMultiplyAdd(p, u, P4);
        p = MathF.FusedMultiplyAdd(p, u, P3);
        p = MathF.FusedMultiplyAdd(p, u, P2);
        p = MathF.FusedMultiplyAdd(p, u, P1);
        p = MathF.FusedMultiplyAdd(p, u, R0);
        return MathF.FusedMultiplyAdd(z, p, z);
    }

    /// <summary>erfc(z) for z ≥ 1 with z² = hi + lo (NaN stays NaN).</summary>
    private static float ErfcTail(float z, float hi, float lo)
    {
        if (z >= TailEnd) return 0f;
        float t = 1f / MathF.FusedMultiplyAdd(z, 0.5f, 1f);
        float s = MathF.FusedMultiplyAdd(t, SScale, SOffset);
        float q = MathF.FusedMultiplyAdd(Q8, s, Q7);
        q = MathF.FusedMultiplyAdd(q, s, Q6);
        q = MathF.FusedMultiplyAdd(q, s, Q5);
        q = MathF.FusedMultiplyAdd(q, s, Q4);
        q = MathF.FusedMultiplyAdd(q, s, Q3);
        q = MathF.FusedMultiplyAdd(q, s, Q2);
        q = MathF.FusedMultiplyAdd(q, s, Q1);
        q = MathF.FusedMultiplyAdd(q, s, Q0);
        float e = ExpNeg(hi, lo);
        return t * e * q;
    }

    /// <summary>
    /// x[i] = e^(x[i] − shift) in place, returning the sum (softmax's numerator and denominator in one pass);
    /// x[i] ≤ shift is assumed, and terms below e^−87 (including −∞ inputs) are 0.
    /// </summary>
    public static float ExpShiftedSum(SimdLevel level, Span<float> x, float shift)
    {
        int n = x.Length, i = 0;
        if (level < SimdLevel.Vector256)
        {
            float sum = 0;
            for (; i < n; i++)
            {
                float h = shift - x[i];
                float e = h > ExpCutoff ? 0f : ExpNeg(h, 0f);
                x[i] = e;
                sum += e;
            }
            return sum;
        }
        ref float xs = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        Span<float> pad = stackalloc float[16];
        if (level == SimdLevel.Vector512)
        {
            var acc = Vector512<float>.Zero;
            var s = Vector512.Create(shift);
            for (; i + 16 <= n; i += 16)
            {
                var e = ExpOfNegative(s - Vector512.LoadUnsafe(ref xs, (nuint)i));
                acc += e;
                e.StoreUnsafe(ref xs, (nuint)i);
            }
            if (i < n)
            {
                // Padding with the shift itself would add e^0 = 1 per lane; +∞ distance gives 0 instead.
                pad.Fill(float.PositiveInfinity);
                for (int j = i; j < n; j++) pad[j - i] = shift - x[j];
                var e = ExpOfNegative(Vector512.Create<float>(pad));
                acc += e;
                e.CopyTo(pad);
                pad[..(n - i)].CopyTo(x[i..]);
            }
            return Vector512.Sum(acc);
        }
        var acc256 = Vector256<float>.Zero;
        var s256 = Vector256.Create(shift);
        for (; i + 8 <= n; i += 8)
        {
            var e = ExpOfNegative(s256 - Vector256.LoadUnsafe(ref xs, (nuint)i));
            acc256 += e;
            e.StoreUnsafe(ref xs, (nuint)i);
        }
        if (i < n)
        {
            pad.Fill(float.PositiveInfinity);
            for (int j = i; j < n; j++) pad[j - i] = shift - x[j];
            var e = ExpOfNegative(Vector256.Create<float>(pad[..8]));
            acc256 += e;
            e.CopyTo(pad);
            pad[..(n - i)].CopyTo(x[i..]);
        }
        return Vector256.Sum(acc256);
    }

    /// <summary>The longest row <see cref="SoftmaxShort"/> takes: four Vector512 registers.</summary>
    internal const int ShortSoftmaxMax = 64;

    /// <summary>
    /// Softmax of row[..valid] in place, row[valid..] set to 0, for rows of at most <see cref="ShortSoftmaxMax"/>
    /// floats on Vector512: the row stays in registers between max, exp, sum and scale (attention rows are a
    /// sentence long, where three library calls per row cost more than the arithmetic). Only the 16-lane chunks
    /// that hold valid entries are loaded and exponentiated, and the max is reduced across lanes by a butterfly
    /// that leaves it in every lane (no scalar extraction). The max is exact in any order and the sum keeps the
    /// order of Max, <see cref="ExpShiftedSum"/> and a multiply by 1/sum, so the same bits as those three calls,
    /// whatever the row's padding past valid.
    /// </summary>
    internal static unsafe void SoftmaxShort(Span<float> row, int valid)
    {
        int n = row.Length;
        fixed (float* r = row)
        {
            var lanes = Vector512<int>.Indices;
            var low = Vector512.Create(float.NegativeInfinity);
            var mask0 = Vector512.LessThan(lanes, Vector512.Create(valid)).AsSingle();
            var mask1 = Vector512.LessThan(lanes, Vector512.Create(valid - 16)).AsSingle();
            var mask2 = Vector512.LessThan(lanes, Vector512.Create(valid - 32)).AsSingle();
            var mask3 = Vector512.LessThan(lanes, Vector512.Create(valid - 48)).AsSingle();
            var x0 = Vector512.ConditionalSelect(mask0, Load(r, 0, n), low);
            var x1 = valid > 16 ? Vector512.ConditionalSelect(mask1, Load(r, 16, n), low) : low;
            var x2 = valid > 32 ? Vector512.ConditionalSelect(mask2, Load(r, 32, n), low) : low;
            var x3 = valid > 48 ? Vector512.ConditionalSelect(mask3, Load(r, 48, n), low) : low;
            var m = x0;
            if (valid > 16) m = Vector512.Max(m, x1);
            if (valid > 32) m = Vector512.Max(m, Vector512.Max(x2, x3));
            m = MaxOfLanes(m);

            // Lanes past valid get distance +∞ (e = 0), as ExpShiftedSum pads its tail.
            var far = Vector512.Create(float.PositiveInfinity);
            var e0 = ExpOfNegative(Vector512.ConditionalSelect(mask0, m - x0, far));
            var e1 = valid > 16 ? ExpOfNegative(Vector512.ConditionalSelect(mask1, m - x1, far)) : Vector512<float>.Zero;
            var e2 = valid > 32 ? ExpOfNegative(Vector512.ConditionalSelect(mask2, m - x2, far)) : Vector512<float>.Zero;
            var e3 = valid > 48 ? ExpOfNegative(Vector512.ConditionalSelect(mask3, m - x3, far)) : Vector512<float>.Zero;
            var acc = e0;
            if (valid > 16) acc += e1;
            if (valid > 32) acc += e2;
            if (valid > 48) acc += e3;
            var inv = Vector512.Create(1f / Vector512.Sum(acc));
            Store(r, 0, n, e0 * inv & mask0);
            if (n > 16) Store(r, 16, n, e1 * inv & mask1);
            if (n > 32) Store(r, 32, n, e2 * inv & mask2);
            if (n > 48) Store(r, 48, n, e3 * inv & mask3);
        }
    }

    /// <summary>The largest of the 16 lanes of <paramref name="v"/> (halves, quarters, pairs, neighbours), in every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> MaxOfLanes(Vector512<float> v)
    {
        v = Vector512.Max(v, Avx512F.Shuffle4x128(v, v, 0b01_00_11_10));
        v = Vector512.Max(v, Avx512F.Shuffle4x128(v, v, 0b10_11_00_01));
        v = Vector512.Max(v, Avx512F.Permute4x32(v, 0b01_00_11_10));
        return Vector512.Max(v, Avx512F.Permute4x32(v, 0b10_11_00_01));
    }

    /// <summary>row[start..start + 16], lanes past the row's end read as 0 (masked: nothing beyond the row is touched).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<float> Load(float* row, int start, int n)
    {
        if (start + 16 <= n) return Vector512.Load(row + start);
        if (start >= n) return Vector512<float>.Zero;
        return Avx512F.MaskLoad(row + start, Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(n - start)).AsSingle(), Vector512<float>.Zero);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store(float* row, int start, int n, Vector512<float> v)
    {
        if (start + 16 <= n) v.Store(row + start);
        else if (start < n) Avx512F.MaskStore(row + start, Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(n - start)).AsSingle(), v);
    }

    private const float ExpCutoff = 87f;

    /// <summary>e^−h for h ≥ 0, exactly 0 beyond <see cref="ExpCutoff"/> (and for h = +∞).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpOfNegative(Vector512<float> h)
    {
        var cut = Vector512.Create(ExpCutoff);
        return Vector512.AndNot(ExpNeg(Vector512.Min(h, cut), Vector512<float>.Zero), Vector512.GreaterThan(h, cut));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpOfNegative(Vector256<float> h)
    {
        var cut = Vector256.Create(ExpCutoff);
        return Vector256.AndNot(ExpNeg(Vector256.Min(h, cut), Vector256<float>.Zero), Vector256.GreaterThan(h, cut));
    }

    /// <summary>e^−(hi + lo) for 0 ≤ hi ≤ 87 and |lo| ≪ 1: e^r·2^n with n = round(−hi·log₂e), r reduced Cody–Waite style.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpNeg(Vector512<float> hi, Vector512<float> lo)
    {
        var x = -hi;
        var n = Vector512.Round(x * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r) - lo;
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(E6), r, Vector512.Create(E5));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(E4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(E3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(E2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(E1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(E0));
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        return p * scale;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpNeg(Vector256<float> hi, Vector256<float> lo)
    {
        var x = -hi;
        var n = Vector256.Round(x * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r) - lo;
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(E6), r, Vector256.Create(E5));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E0));
        var scale = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        return p * scale;
    }

    private static float ExpNeg(float hi, float lo)
    {
        float x = -hi;
        float n = MathF.Round(x * Log2E);
        float r = MathF.FusedMultiplyAdd(n, -Ln2Hi, x);
        r = MathF.FusedMultiplyAdd(n, -Ln2Lo, r) - lo;
        float p = MathF.FusedMultiplyAdd(E6, r, E5);
        p = MathF.FusedMultiplyAdd(p, r, E4);
        p = MathF.FusedMultiplyAdd(p, r, E3);
        p = MathF.FusedMultiplyAdd(p, r, E2);
        p = MathF.FusedMultiplyAdd(p, r, E1);
        p = MathF.FusedMultiplyAdd(p, r, E0);
        return p * BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    }
}
