// int8 encoders on the tiny fixture: close to float32, independent of batch and threads; `quantize` directories.
using Semblance.Embeddings;
using Semblance.Models;

namespace Semblance.Tests.Embeddings;

public class QuantizedEncoderTests
{
    private static string Model => SharedData.FixtureModel("bert-tiny-uncased");

    private static readonly string[] Texts =
    [
        "the cat sat on the mat", "a dog barks at night", "stocks fell sharply on monday",
        "how do i reset my password", "i forgot my login credentials", "short", "an entirely different topic about rain and snow in the mountains",
    ];

    private static float[] Encode(string model, WeightPrecision? precision, int batchSize = 32, int threads = 1)
    {
        using var encoder = SentenceEncoder.Load(model, new EncoderOptions { Precision = precision, BatchSize = batchSize, Threads = threads, Pooling = "mean" });
        return encoder.EncodeFlat(Texts);
    }

    private static double MinCosine(float[] a, float[] b, int dim)
    {
        double min = 1;
        for (int r = 0; r < a.Length / dim; r++)
        {
            double dot = 0, na = 0, nb = 0;
            for (int j = 0; j < dim; j++)
            {
                dot += a[r * dim + j] * (double)b[r * dim + j];
                na += a[r * dim + j] * (double)a[r * dim + j];
                nb += b[r * dim + j] * (double)b[r * dim + j];
            }
            min = Math.Min(min, dot / Math.Sqrt(na * nb));
        }
        return min;
    }

    [SharedFact]
    public void Int8IsCloseToFloat32ButNotTheSame()
    {
        var fp32 = Encode(Model, null);
        var int8 = Encode(Model, WeightPrecision.Int8);
        Assert.NotEqual(fp32, int8);
        Assert.InRange(MinCosine(fp32, int8, fp32.Length / Texts.Length), 0.99, 1.0);
    }

    [SharedFact]
    public void Int8VectorsDoNotDependOnBatchOrThreads()
    {
        var reference = Encode(Model, WeightPrecision.Int8, batchSize: 32, threads: 1);
        Assert.Equal(reference, Encode(Model, WeightPrecision.Int8, batchSize: 1, threads: 1));
        Assert.Equal(reference, Encode(Model, WeightPrecision.Int8, batchSize: 3, threads: 2));
    }

    [SharedFact]
    public void QuantizedDirectoryLoadsAtInt8UnlessAskedOtherwise()
    {
        var output = Path.Combine(Path.GetTempPath(), "semblance-quantize-" + Guid.NewGuid().ToString("N"));
        try
        {
            ModelQuantizer.Write(ModelDirectory.Open(Model), output, "int8", force: false);
            Assert.Equal(WeightPrecision.Int8, ModelDirectory.Open(output).Precision);
            Assert.Equal(Encode(Model, WeightPrecision.Int8), Encode(output, null));
            Assert.Equal(Encode(Model, null), Encode(output, WeightPrecision.Fp32));
            var again = Assert.Throws<SemblanceException>(() => ModelQuantizer.Write(ModelDirectory.Open(Model), output, "int8", force: false));
            Assert.Contains("--force", again.Message);
            ModelQuantizer.Write(ModelDirectory.Open(Model), output, "int8", force: true);
            Assert.Throws<SemblanceException>(() => ModelQuantizer.Write(ModelDirectory.Open(output), output, "int8", force: true));
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, true);
        }
    }

    [SharedTheory]
    [InlineData("fp16", "F16")]
    [InlineData("bf16", "BF16")]
    public void HalfPrecisionDirectoryStoresHalfTheBytesAndEncodesClose(string format, string dtype)
    {
        var output = Path.Combine(Path.GetTempPath(), "semblance-quantize-" + Guid.NewGuid().ToString("N"));
        try
        {
            ModelQuantizer.Write(ModelDirectory.Open(Model), output, format, force: false);
            using (var file = SafeTensorsFile.Open(Path.Combine(output, ModelWeights.SingleFileName)))
                Assert.All(file.Tensors.Values.Where(t => t.IsFloat), t => Assert.Equal(dtype, t.DType));
            Assert.True(new FileInfo(Path.Combine(output, ModelWeights.SingleFileName)).Length < 0.6 * new FileInfo(Path.Combine(Model, ModelWeights.SingleFileName)).Length);
            var fp32 = Encode(Model, null);
            Assert.InRange(MinCosine(fp32, Encode(output, null), fp32.Length / Texts.Length), 0.995, 1.0);
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, true);
        }
    }

    [Fact]
    public void DamagedPrecisionFileIsAOneLineErrorNamingIt()
    {
        var dir = Path.Combine(Path.GetTempPath(), "semblance-precision-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            Assert.Null(WeightPrecisions.ReadDefault(dir));
            var path = Path.Combine(dir, WeightPrecisions.ConfigFileName);
            File.WriteAllText(path, WeightPrecisions.ConfigJson(WeightPrecision.Int8));
            Assert.Equal(WeightPrecision.Int8, WeightPrecisions.ReadDefault(dir));
            File.WriteAllText(path, "{\"format_version\": 1, \"precision\": \"int4\"}");
            var e = Assert.Throws<SemblanceException>(() => WeightPrecisions.ReadDefault(dir));
            Assert.Contains(WeightPrecisions.ConfigFileName, e.Message);
            Assert.Contains("int4", e.Message);
            File.WriteAllText(path, "{\"precision\": \"int8\"}");
            Assert.Throws<ModelFormatException>(() => WeightPrecisions.ReadDefault(dir));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
