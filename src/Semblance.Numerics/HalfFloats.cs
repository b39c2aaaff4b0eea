// 16-bit float weights (IEEE binary16 and bfloat16): exact widening to float32 (scalar and Vector512) and rounding.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Semblance.Numerics;

/// <summary>How a weight's values are stored: float32, or one of the two 16-bit float formats.</summary>
internal enum WeightFormat
{
    Float32,
    /// <summary>IEEE 754 binary16 (safetensors F16): 1 sign, 5 exponent, 10 fraction bits.</summary>
    Float16,
    /// <summary>bfloat16 (safetensors BF16): the upper half of a float32.</summary>
    BFloat16,
}

/// <summary>
/// Conversions between 16-bit floats and float32. Widening is exact (every 16-bit value is a float32), and
/// every path here gives the bits of <see cref="Widen(WeightFormat, ushort)"/>, the scalar reference, for all
/// 65,536 inputs: so a product on 16-bit weights widened on the fly equals the float32 product on the weights
/// widened once.
/// </summary>
internal static class HalfFloats
{
    /// <summary>2^112: moves a binary16 exponent (bias 15) to float32's (bias 127), subnormals included.</summary>
    private static readonly float Rebias = BitConverter.Int32BitsToSingle((127 + 112) << 23);

    public static int ByteSize(this WeightFormat format) => format == WeightFormat.Float32 ? 4 : 2;

    /// <summary>
    /// The float32 value of one 16-bit float (the scalar reference). A NaN keeps its payload bits as they are (a
    /// signalling binary16 NaN stays signalling, where <c>(float)Half</c> quietens it); every other value is the same.
    /// </summary>
    public static float Widen(WeightFormat format, ushort bits)
    {
        if (format == WeightFormat.BFloat16) return BitConverter.Int32BitsToSingle(bits << 16);
        if (format != WeightFormat.Float16) throw new ArgumentOutOfRangeException(nameof(format), format, "not a 16-bit format");
        uint sign = (uint)(bits & 0x8000) << 16, magnitude = (uint)(bits & 0x7FFF) << 13;
        return magnitude >= 0x0F80_0000
            ? BitConverter.UInt32BitsToSingle(sign | magnitude | 0x7F80_0000)
            : BitConverter.UInt32BitsToSingle(sign | magnitude) * Rebias;
    }

    /// <summary>The nearest 16-bit float (ties to even); NaN stays NaN, beyond the range is ±Inf.</summary>
    public static ushort Narrow(WeightFormat format, float value)
    {
        if (format == WeightFormat.Float16) return BitConverter.HalfToUInt16Bits((Half)value);
        if (format != WeightFormat.BFloat16) throw new ArgumentOutOfRangeException(nameof(format), format, "not a 16-bit format");
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>Index of the first NaN or ±Inf among 16-bit floats, or −1.</summary>
    public static long IndexOfNonFinite(WeightFormat format, ReadOnlySpan<ushort> bits)
    {
        ushort exponent = format == WeightFormat.BFloat16 ? (ushort)0x7F80 : (ushort)0x7C00;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var mask = Vector512.Create(exponent);
            ref ushort start = ref MemoryMarshal.GetReference(bits);
            for (; i + 32 <= bits.Length; i += 32)
            {
                var v = Vector512.LoadUnsafe(ref start, (nuint)i) & mask;
                if (Vector512.EqualsAny(v, mask)) break;
            }
        }
        for (; i < bits.Length; i++)
            if ((bits[i] & exponent) == exponent) return i;
        return -1;
    }

    /// <summary>dst[i] = Widen(src[i]).</summary>
    public static void Widen(WeightFormat format, ReadOnlySpan<ushort> src, Span<float> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException($"destination has {dst.Length} values, expected {src.Length}", nameof(dst));
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref ushort s = ref MemoryMarshal.GetReference(src);
            ref float d = ref MemoryMarshal.GetReference(dst);
            for (; i + 32 <= src.Length; i += 32)
            {
                var v = Vector512.LoadUnsafe(ref s, (nuint)i);
                var (lo, hi) = Vector512.Widen(v);
                Top(format, lo << 16).StoreUnsafe(ref d, (nuint)i);
                Top(format, hi << 16).StoreUnsafe(ref d, (nuint)i + 16);
            }
        }
        for (; i < src.Length; i++) dst[i] = Widen(format, src[i]);
    }

    /// <summary>
    /// Sixteen 16-bit floats held in the upper halves of <paramref name="top"/> (lower halves zero) as float32.
    /// bfloat16 is already a float32 there; binary16 takes sign | magnitude·2^13, times 2^112, which is exact for
    /// normal and subnormal values, and Inf/NaN keep their fraction under float32's all-ones exponent.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Top(WeightFormat format, Vector512<uint> top)
    {
        if (format == WeightFormat.BFloat16) return top.AsSingle();
        var magnitude = (top << 1) >> 4;
        var bits = magnitude | (top & Vector512.Create(0x8000_0000u));
        var value = bits.AsSingle() * Vector512.Create(Rebias);
        var special = Vector512.GreaterThanOrEqual(magnitude, Vector512.Create(0x0F80_0000u));
        return Vector512.ConditionalSelect(special.AsSingle(), (bits | Vector512.Create(0x7F80_0000u)).AsSingle(), value);
    }
}
