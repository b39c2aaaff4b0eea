// Tests for the default encoder: features, randomized SVD against an exact SVD, fit/save/load and determinism.
using MathNet.Numerics.LinearAlgebra;
using Semblance.Embeddings;
using Semblance.Embeddings.Default;

namespace Semblance.Tests.Embeddings;

public class DefaultEncoderTests
{
    [Fact]
    public void Features_CjkCharGrams_WordsAndSubwords()
    {
        var f = new LexicalFeatures(new LexicalFeatureSettings { CjkMinN = 1, CjkMaxN = 2, SubwordMinN = 3, SubwordMaxN = 3 });
        var counts = new Dictionary<string, int>();
        f.Extract("Ｈi, 密码密码!", counts);
        Assert.Equal(1, counts["w:hi"]);
        Assert.Equal(1, counts["s:<hi"]);
        Assert.Equal(1, counts["s:hi>"]);
        Assert.Equal(2, counts["c:密"]);
        Assert.Equal(2, counts["c:密码"]);
        Assert.Equal(1, counts["c:码密"]);
        Assert.Equal(7, counts.Count);
    }

    internal static List<string> Corpus(int lines, int seed)
    {
        string[][] topics =
        [
            ["password", "reset", "login", "account", "email", "forgot"],
            ["refund", "order", "payment", "card", "charge", "money"],
            ["shipping", "delivery", "package", "address", "track", "courier"],
            ["密码", "登录", "账号", "重置", "邮箱", "忘记"],
        ];
        string[] filler = ["the", "my", "how", "can", "i", "please", "help", "is", "a", "我的", "怎么", "请问"];
        var rng = new Random(seed);
        var result = new List<string>();
        for (int i = 0; i < lines; i++)
        {
            var t = topics[i % topics.Length];
            var words = Enumerable.Range(0, 6).Select(j => j % 2 == 0 ? t[rng.Next(t.Length)] : filler[rng.Next(filler.Length)]);
            result.Add(string.Join(i % 4 == 3 ? "" : " ", words));
        }
        return result;
    }

    [Fact]
    public void RandomizedSvd_MatchesExactSvd()
    {
        var rng = new Random(5);
        int n = 60, v = 25;
        var rowStart = new int[n + 1];
        var cols = new List<int>();
        var vals = new List<float>();
        var dense = new double[n, v];
        for (int r = 0; r < n; r++)
        {
            for (int c = 0; c < v; c++)
                if (rng.NextDouble() < 0.3)
                {
                    float x = (float)rng.NextDouble();
                    cols.Add(c);
                    vals.Add(x);
                    dense[r, c] = x;
                }
            rowStart[r + 1] = cols.Count;
        }
        var sparse = new SparseRows(n, v, rowStart, cols.ToArray(), vals.ToArray());
        var svd = RandomizedSvd.Fit(sparse, 5, oversampling: 20, powerIterations: 3, seed: 1);
        var exact = Matrix<double>.Build.DenseOfArray(dense).Svd(true);
        for (int j = 0; j < 5; j++)
        {
            Assert.Equal(exact.S[j], svd.SingularValues[j], 6);
            double dot = 0;
            for (int c = 0; c < v; c++) dot += exact.VT[j, c] * svd.RightVectors[c * 5 + j];
            Assert.Equal(1.0, Math.Abs(dot), 5);
        }
    }

    [Fact]
    public void Fit_SavesLoadableDeterministicModel()
    {
        var dir = Directory.CreateTempSubdirectory("semblance-default-");
        try
        {
            var corpus = Corpus(400, 1);
            var a = Path.Combine(dir.FullName, "a");
            var b = Path.Combine(dir.FullName, "b");
            var report = DefaultEncoder.Fit(corpus, a, new DefaultEncoderOptions { Dimension = 256, Seed = 3 });
            DefaultEncoder.Fit(corpus, b, new DefaultEncoderOptions { Dimension = 256, Seed = 3 });
            // Capped at lines/4 = 100, and further at the rank of this synthetic corpus's TF-IDF matrix.
            int d = report.Dimension;
            Assert.InRange(d, 20, 100);
            foreach (var file in new[] { "config.json", "vocab.json", "model.safetensors" })
                Assert.Equal(File.ReadAllBytes(Path.Combine(a, file)), File.ReadAllBytes(Path.Combine(b, file)));

            var plain = Path.Combine(dir.FullName, "plain");
            DefaultEncoder.Fit(corpus, plain, new DefaultEncoderOptions { Dimension = 256, Seed = 3, Whiten = false });
            using var enc = SentenceEncoder.Load(plain);
            Assert.Equal(DefaultEncoder.ModelType, enc.Backend.ModelType);
            Assert.Equal(d, enc.Dimension);
            var v = enc.Encode(["how can i reset my password", "forgot password for my login", "track my package delivery", "重置我的密码"]);
            double Cos(int i, int j) => System.Numerics.Tensors.TensorPrimitives.Dot(v.AsSpan(i * d, d), v.AsSpan(j * d, d));
            Assert.True(Cos(0, 1) > Cos(0, 2), $"{Cos(0, 1)} vs {Cos(0, 2)}");
            Assert.Equal(1.0, Cos(0, 0), 4);

            using var whitened = SentenceEncoder.Load(a);
            Assert.Equal(d, whitened.Dimension);
            var w = whitened.Encode("reset my password");
            Assert.Equal(1.0, System.Numerics.Tensors.TensorPrimitives.Norm(w), 4);
            Assert.Throws<SemblanceException>(() => SentenceEncoder.Load(a, new EncoderOptions { Pooling = "cls" }));
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void TooSmallCorpus_IsAnError()
    {
        var e = Assert.Throws<InputFormatException>(() => DefaultEncoder.Fit(["a b", "c d", ""], Path.GetTempPath(), new DefaultEncoderOptions(), "tiny.txt"));
        Assert.StartsWith("tiny.txt: 2 non-empty lines", e.Message);
    }
}
