// Tests for the default encoder: features, randomized SVD, hashing, boost weights, fit/save/load, determinism, format versions.
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

    private static double Cos(float[] v, int d, int i, int j) =>
        System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(v.AsSpan(i * d, d), v.AsSpan(j * d, d));

    [Fact]
    public void SignedHash_IsUnbiasedForDotProducts_AndMatchesColumnHash()
    {
        // x = (1, 0, 2, 0, 0, 1), y = (0, 3, 1, 0, 0, 2) as sparse rows over 6 features: x·y = 4.
        var rows = new SparseRows(2, 6, [0, 3, 6], [0, 2, 5, 1, 2, 5], [1, 2, 1, 3, 1, 2]);
        double sum = 0;
        const int seeds = 400;
        for (int seed = 0; seed < seeds; seed++)
        {
            var h = new SignedHashProjection(6, 4, 2, seed);
            var a = new float[4];
            var b = new float[4];
            h.Project(rows, 0, a);
            h.Project(rows, 1, b);
            sum += System.Numerics.Tensors.TensorPrimitives.Dot(a, b);
        }
        Assert.InRange(sum / seeds, 3.6, 4.4);

        var hash = new SignedHashProjection(6, 4, 2, 7);
        var dense = new float[] { 1, 0, 2, 0, 0, 1 };
        var viaColumns = hash.ProjectColumns(dense, 1);
        var viaRows = new float[4];
        hash.Project(rows, 0, viaRows);
        Assert.Equal(viaRows, viaColumns);
    }

    [Fact]
    public void BoostWeights_LeaveTopUnboosted_AndGrowForSmallDirections()
    {
        double[] sigma = [10, 8, 4, 2, 1, 0];
        Assert.All(SpectralLsa.BoostWeights(sigma, 0, 0, 1), w => Assert.Equal(1f, w));
        var w = SpectralLsa.BoostWeights(sigma, 0.5, 0, 1);
        Assert.Equal(1f, w[0]);
        Assert.Equal(Math.Sqrt(1.5), w[1], 5);
        Assert.Equal(Math.Sqrt(1 + 0.5 * 16), w[3], 5);
        Assert.Equal(1f, w[5]);
        // p = 1 boosts every kept direction alike (plain LSA weighting).
        Assert.All(SpectralLsa.BoostWeights(sigma, 0.5, 1, 1).Skip(1).Take(4), x => Assert.Equal(Math.Sqrt(1.5), x, 5));
    }

    [Fact]
    public void WithoutBoost_CosineTracksTfIdf()
    {
        var dir = Directory.CreateTempSubdirectory("semblance-default-");
        try
        {
            var corpus = Corpus(400, 4);
            DefaultEncoder.Fit(corpus, dir.FullName, new DefaultEncoderOptions { Dimension = 2048, LsaDimension = 32, Boost = 0, Seed = 1 });
            using var enc = SentenceEncoder.Load(dir.FullName);
            var lsa = (LsaBackend)enc.Backend;
            var texts = corpus.Take(40).ToList();
            var v = enc.EncodeFlat(texts);
            var x = lsa.TfIdf.Transform(texts);
            double maxError = 0;
            for (int i = 0; i < texts.Count; i += 2)
            {
                double exact = 0;
                for (int p = x.RowStart[i]; p < x.RowStart[i + 1]; p++)
                    for (int q = x.RowStart[i + 1]; q < x.RowStart[i + 2]; q++)
                        if (x.Columns[p] == x.Columns[q]) exact += x.Values[p] * x.Values[q];
                maxError = Math.Max(maxError, Math.Abs(Cos(v, 2048, i, i + 1) - exact));
            }
            // Exact on the LSA subspace, hashed into 2016 dims on the residual: small error, not zero.
            Assert.InRange(maxError, 0, 0.12);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void Fit_SavesLoadableDeterministicModel_ThatRanksParaphrasesFirst()
    {
        var dir = Directory.CreateTempSubdirectory("semblance-default-");
        try
        {
            var corpus = Corpus(400, 1);
            var a = Path.Combine(dir.FullName, "a");
            var b = Path.Combine(dir.FullName, "b");
            var c = Path.Combine(dir.FullName, "c");
            var options = new DefaultEncoderOptions { Dimension = 256, LsaDimension = 128, Seed = 3 };
            var report = DefaultEncoder.Fit(corpus, a, options);
            DefaultEncoder.Fit(corpus, b, options);
            DefaultEncoder.Fit(corpus, c, options with { Seed = 4 });
            // LSA capped at lines/4 = 100 (and the TF-IDF rank); the hash takes the rest, so the total stays 256.
            Assert.InRange(report.LsaDimension, 20, 100);
            Assert.Equal(256, report.LsaDimension + report.HashDimension);
            foreach (var file in new[] { "config.json", "vocab.json", "model.safetensors" })
                Assert.Equal(File.ReadAllBytes(Path.Combine(a, file)), File.ReadAllBytes(Path.Combine(b, file)));
            Assert.NotEqual(File.ReadAllBytes(Path.Combine(a, "model.safetensors")), File.ReadAllBytes(Path.Combine(c, "model.safetensors")));

            using var enc = SentenceEncoder.Load(a);
            Assert.Equal(DefaultEncoder.ModelType, enc.Backend.ModelType);
            Assert.Equal(256, enc.Dimension);
            string[] texts = ["how can i reset my password", "forgot password for my login", "track my package delivery", "重置我的密码", "忘记密码 登录", "refund my card payment"];
            var v = enc.EncodeFlat(texts);
            Assert.True(Cos(v, 256, 0, 1) > Cos(v, 256, 0, 2), $"{Cos(v, 256, 0, 1)} vs {Cos(v, 256, 0, 2)}");
            Assert.True(Cos(v, 256, 0, 1) > Cos(v, 256, 0, 5), $"{Cos(v, 256, 0, 1)} vs {Cos(v, 256, 0, 5)}");
            Assert.True(Cos(v, 256, 3, 4) > Cos(v, 256, 3, 2), $"{Cos(v, 256, 3, 4)} vs {Cos(v, 256, 3, 2)}");
            Assert.Equal(1.0, System.Numerics.Tensors.TensorPrimitives.Norm(v.AsSpan(0, 256)), 4);

            // A text embeds the same alone, in a batch, and through a second load.
            using var again = SentenceEncoder.Load(a);
            Assert.Equal(v.AsSpan(2 * 256, 256).ToArray(), again.Encode(texts[2]));
            AssertUnknownTextsGetTheFallback(enc, 256 - report.HashDimension);
            Assert.Throws<SemblanceException>(() => SentenceEncoder.Load(a, new EncoderOptions { Pooling = "cls" }));
        }
        finally
        {
            dir.Delete(true);
        }
    }

    /// <summary>
    /// Texts with no feature in the vocabulary get the signed hash of their own features in the hashed dimensions: unit
    /// length (never the zero vector), the same for the same text, closer to unknown texts sharing characters.
    /// </summary>
    private static void AssertUnknownTextsGetTheFallback(SentenceEncoder enc, int lsaDims)
    {
        string[] unknown = ["", "   ", "§§§", "zzzz qqqq", "zzzz qqqx", "ƀƁƂ ƃƄ", "zzzz qqqq"];
        var v = enc.Encode(unknown);
        foreach (var row in v)
        {
            Assert.Equal(1.0, System.Numerics.Tensors.TensorPrimitives.Norm(row), 4);
            Assert.All(row[..lsaDims], x => Assert.Equal(0f, x));
        }
        Assert.Equal(v[0], v[1]);
        Assert.Equal(v[3], v[6]);
        Assert.Equal(v[3], enc.Encode("zzzz qqqq"));
        var sim = enc.Similarity(v, v);
        Assert.Equal(1f, sim[0][1], 4);
        if (enc.Dimension - lsaDims < 64) return; // too few hashed dimensions for the collision-sensitive checks
        Assert.True(sim[3][4] > sim[3][5] + 0.2f, $"{sim[3][4]} vs {sim[3][5]}");
        Assert.True(Math.Abs(sim[2][0]) < 0.5f, $"{sim[2][0]}");
    }

    [Fact]
    public void FormatVersion1_StillLoads_AndUnknownVersionIsAnError()
    {
        var dir = Directory.CreateTempSubdirectory("semblance-default-v1-");
        try
        {
            // A format-1 directory as `fit-default --no-whiten` wrote it: plain LSA projection, no whitening.
            string[] features = ["w:password", "w:reset", "w:refund"];
            var w = new Semblance.Models.SafeTensorsWriter();
            w.Metadata["format"] = DefaultEncoder.ModelType;
            w.Metadata["format_version"] = "1";
            w.Add("idf", [3], new float[] { 1, 1, 2 });
            w.Add("projection", [3, 2], new float[] { 1, 0, 1, 0, 0, 1 });
            w.Add("singular_values", [2], new float[] { 2, 1 });
            w.Save(Path.Combine(dir.FullName, DefaultEncoder.WeightsFile));
            File.WriteAllText(Path.Combine(dir.FullName, DefaultEncoder.VocabularyFile), "{\"features\":[\"w:password\",\"w:reset\",\"w:refund\"]}");
            string Config(int version) => $$"""
                {"model_type": "semblance-lsa", "format_version": {{version}}, "dims": 2, "vocab_size": 3,
                 "features": {"normalization": "NFKC+lowercase", "cjk_min_n": 1, "cjk_max_n": 2, "subword_min_n": 0, "subword_max_n": 0},
                 "whiten": false, "normalize": true}
                """;
            File.WriteAllText(Path.Combine(dir.FullName, "config.json"), Config(1));
            using (var enc = SentenceEncoder.Load(dir.FullName))
            {
                Assert.Equal(2, enc.Dimension);
                var v = enc.EncodeFlat(["reset password", "refund"]);
                Assert.Equal(1f, v[0], 5);
                Assert.Equal(0f, v[1], 5);
                Assert.Equal(0f, v[2], 5);
                Assert.Equal(1f, v[3], 5);
                AssertUnknownTextsGetTheFallback(enc, 0);
            }
            File.WriteAllText(Path.Combine(dir.FullName, "config.json"), Config(3));
            var e = Assert.Throws<ModelFormatException>(() => SentenceEncoder.Load(dir.FullName));
            Assert.Contains("format_version 3 is not supported (expected 1 or 2)", e.Message);
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
