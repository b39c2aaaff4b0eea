// 16-bit weight panels: exact widening, and products equal to the float32 GEMM on the weights widened once.
using Semblance.Numerics;
using Xunit;

namespace Semblance.Tests.Numerics;

public unsafe class HalfPanelTests
{
    private static readonly ushort[] EveryPattern = Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();

    [Theory]
    [InlineData("Float16")]
    [InlineData("BFloat16")]
    public void VectorWideningGivesTheScalarBitsForEvery16BitPattern(string formatName)
    {
        var format = Enum.Parse<WeightFormat>(formatName);
        var widened = new float[EveryPattern.Length];
        HalfFloats.Widen(format, EveryPattern, widened);
        // The scalar reference is the format's value: .NET's Half conversion for every binary16 but NaNs (whose
        // payload it may quieten), the upper half of a float32 for bfloat16.
        foreach (var bits in EveryPattern)
        {
            float expected = format == WeightFormat.Float16 ? (float)BitConverter.UInt16BitsToHalf(bits) : BitConverter.Int32BitsToSingle(bits << 16);
            float actual = HalfFloats.Widen(format, bits);
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(actual));
            else Assert.Equal(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(actual));
        }
        for (int i = 0; i < EveryPattern.Length; i++)
            Assert.True(BitConverter.SingleToUInt32Bits(HalfFloats.Widen(format, EveryPattern[i])) == BitConverter.SingleToUInt32Bits(widened[i]),
                $"{format} 0x{i:X4}: {widened[i]} vs {HalfFloats.Widen(format, EveryPattern[i])}");

        // The panel widening (a 2048 × 32 panel holding every pattern once) on every tier this machine runs.
        var packed = PackedWeight.Pack(EveryPattern, format, 32, 2048, widen: false);
        var reference = new float[EveryPattern.Length];
        packed.Unpack(reference);
        foreach (var level in new[] { SimdLevel.Vector512, SimdLevel.Scalar }.Where(Simd.IsSupported))
        {
            var panel = new float[EveryPattern.Length];
            fixed (float* dst = panel)
                WideningMicroKernel.WidenPanel(level, format, packed.Data16.Pointer, MicroKernel.Width, 2048, dst);
            for (int o = 0; o < 32; o++)
                for (int p = 0; p < 2048; p++)
                    Assert.Equal(BitConverter.SingleToUInt32Bits(reference[o * 2048 + p]), BitConverter.SingleToUInt32Bits(panel[p * 32 + o]));
        }
        // Unpack widens what Pack stored: row o holds patterns o·2048 .. o·2048 + 2047.
        Assert.Equal(widened.Select(BitConverter.SingleToUInt32Bits), reference.Select(BitConverter.SingleToUInt32Bits));
    }

    [Fact]
    public void RoundingAndNonFiniteDetectionFollowEachFormat()
    {
        Assert.Equal(0x3C00, HalfFloats.Narrow(WeightFormat.Float16, 1f));
        Assert.Equal(0x3F80, HalfFloats.Narrow(WeightFormat.BFloat16, 1f + 1f / 256));
        Assert.Equal(0x3F82, HalfFloats.Narrow(WeightFormat.BFloat16, 1f + 3f / 256));
        var bits = new ushort[100];
        Assert.Equal(-1, HalfFloats.IndexOfNonFinite(WeightFormat.Float16, bits));
        bits[77] = 0x7C00; // binary16 +Inf; as bfloat16 it is a finite 2^121
        Assert.Equal(77, HalfFloats.IndexOfNonFinite(WeightFormat.Float16, bits));
        Assert.Equal(-1, HalfFloats.IndexOfNonFinite(WeightFormat.BFloat16, bits));
        bits[40] = 0xFF81; // a NaN in both formats
        Assert.Equal(40, HalfFloats.IndexOfNonFinite(WeightFormat.Float16, bits));
        Assert.Equal(40, HalfFloats.IndexOfNonFinite(WeightFormat.BFloat16, bits));
    }

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var level in NumericsTestData.SupportedLevels())
            foreach (var format in new[] { "Float16", "BFloat16" })
                foreach (var mode in new[] { "Registers", "Widened", "Auto" })
                    if (level == nameof(SimdLevel.Vector512) || mode == "Auto") data.Add(level, format, mode);
        return data;
    }

    /// <summary>
    /// The determinism rule carried over: a product on 16-bit panels equals bitwise the float32 product on the same
    /// weights widened once, for every tier and mode, row count (1 to past a task), width (a partial last panel),
    /// depth (one and several K-blocks), epilogue and thread count.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void SixteenBitProductEqualsTheFloat32ProductOnWidenedWeights(string level, string formatName, string modeName)
    {
        var format = Enum.Parse<WeightFormat>(formatName);
        var previous = Gemm.ForcedHalfMode;
        Gemm.ForcedHalfMode = Enum.Parse<HalfPanelMode>(modeName);
        try
        {
            using var two = new ComputeContext(2);
            foreach (var (m, n, k) in new[] { (1, 50, 37), (13, 96, 384), (100, 70, 800), (200, 64, 96) })
            {
                var bits = NumericsTestData.Random(n * k, m + n, 0.5f).Select(v => HalfFloats.Narrow(format, v)).ToArray();
                bits[0] = 0x0001; // the smallest subnormal, and a negative zero
                bits[1] = 0x8000;
                var widened = bits.Select(b => HalfFloats.Widen(format, b)).ToArray();
                var half = PackedWeight.Pack(bits, format, n, k, widen: false);
                var float32 = PackedWeight.Pack(widened, n, k);
                Assert.Equal(WeightFormat.Float32, PackedWeight.Pack(bits, format, n, k, widen: true).Format);
                var x = NumericsTestData.Random(m * k, 7 * m, 2f);
                var bias = NumericsTestData.Random(n, 3);
                var residual = NumericsTestData.Random(m * n, 4);
                foreach (var ctx in new[] { ComputeContext.Single, two })
                {
                    var expected = new float[m * n];
                    var actual = new float[m * n];
                    using (NumericsTestData.Force(level))
                    {
                        Gemm.Linear(x, m, float32, bias, Activation.Gelu, expected, ctx);
                        Gemm.Linear(x, m, half, bias, Activation.Gelu, actual, ctx);
                    }
                    Assert.Equal(expected.Select(BitConverter.SingleToUInt32Bits), actual.Select(BitConverter.SingleToUInt32Bits));
                    using (NumericsTestData.Force(level))
                    {
                        Gemm.Linear(x, m, float32, bias, residual, expected, ctx);
                        Gemm.Linear(x, m, half, bias, residual, actual, ctx);
                    }
                    Assert.Equal(expected.Select(BitConverter.SingleToUInt32Bits), actual.Select(BitConverter.SingleToUInt32Bits));
                }
            }
        }
        finally
        {
            Gemm.ForcedHalfMode = previous;
        }
    }

    [Fact]
    public void PackingFromSixteenBitsWidenedEqualsPackingTheWidenedFloats()
    {
        var bits = NumericsTestData.Random(70 * 33, 9).Select(v => HalfFloats.Narrow(WeightFormat.Float16, v)).ToArray();
        var direct = PackedWeight.Pack(bits, WeightFormat.Float16, 70, 33, widen: true);
        var viaFloats = PackedWeight.Pack(bits.Select(b => HalfFloats.Widen(WeightFormat.Float16, b)).ToArray(), 70, 33);
        Assert.Equal(viaFloats.Data.Span.ToArray(), direct.Data.Span.ToArray());
        Assert.Equal(direct.ResidentBytes, 2 * PackedWeight.Pack(bits, WeightFormat.Float16, 70, 33, widen: false).ResidentBytes);
    }
}
