// KV-cache decoding against Hugging Face's logits and the full-recompute decoder; sampling, beams, ranking, bad input.
using System.Text.Json;
using Semblance.Generation;
using Semblance.Models;
using Semblance.Tests.Cli;
using Semblance.Tests.CrossEncoders;
using Semblance.Tests.Models;

namespace Semblance.Tests.Generation;

public class DecodingTests
{
    private static List<JsonElement> Traces(string name) =>
        File.ReadLines(Path.Combine(HeadFixtures.Dir(name), "greedy.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    [SharedTheory]
    [InlineData("bert-tiny-mlm", true)]
    [InlineData("bert-tiny-mlm", false)]
    [InlineData("roformer-tiny-mlm", true)]
    [InlineData("roformer-tiny-mlm", false)]
    public void StepwiseLogitsMatchTransformersUnderTheUniLmMask(string name, bool useCache)
    {
        using var temp = new TempDir();
        using var model = MaskedLanguageModel.Load(HeadFixtures.ModelDirectory(name, temp), threads: 2);
        using var expected = SafeTensorsFile.Open(Path.Combine(HeadFixtures.Dir(name), "expected.safetensors"));
        var cases = HeadFixtures.Cases(name);
        int v = model.VocabSize, checkedCases = 0;
        for (int i = 0; i < cases.Count; i++)
        {
            if (cases[i].GetProperty("attention").GetString() != "unilm") continue;
            var ids = HeadFixtures.Ints(cases[i], "input_ids");
            int n = HeadFixtures.Ints(cases[i], "token_type_ids").Count(t => t == 0);
            var logits = model.TeacherForcedLogits(ids, n, useCache);
            Assert.Equal((ids.Length - n + 1) * v, logits.Length);
            var top5 = expected.ReadFloat($"{i}.top5.values").Span;
            var logsumexp = expected.ReadFloat($"{i}.logsumexp").Span;
            var argmax = HeadFixtures.Ints(cases[i], "argmax");
            for (int t = n - 1; t < ids.Length; t++)
                MaskedLanguageModelTests.AssertRowMatches(logits.AsSpan((t - n + 1) * v, v), argmax[t], top5.Slice(t * 5, 5), logsumexp[t], $"case {i} position {t}");
            checkedCases++;
        }
        Assert.True(checkedCases >= 4);
    }

    [SharedTheory]
    [InlineData("bert-tiny-mlm")]
    [InlineData("roformer-tiny-mlm")]
    public void CachedAndRecomputedGreedyMatchTheFixturesInBatchesOfOneAndEight(string name)
    {
        using var temp = new TempDir();
        using var model = MaskedLanguageModel.Load(HeadFixtures.ModelDirectory(name, temp), threads: 2);
        var traces = Traces(name);
        var sources = traces.Select(t => t.GetProperty("source").GetString()!).ToList();
        foreach (bool cache in new[] { true, false })
        {
            var options = new DecodingOptions { Strategy = DecodingStrategy.Greedy, MaxNewTokens = 24, UseCache = cache };
            var batched = sources.Chunk(8).SelectMany(c => model.Generate(c, options)).ToList();
            for (int i = 0; i < traces.Count; i++)
            {
                var single = model.Generate([sources[i]], options)[0].Candidates.Single();
                var inBatch = batched[i].Candidates.Single();
                Assert.Equal(HeadFixtures.Ints(traces[i], "generated_ids"), single.Ids);
                Assert.Equal(single.Ids, inBatch.Ids);
                Assert.Equal(traces[i].GetProperty("stop").GetString(), GenerationResult.StopName(single.Stop));
                // The log-probability is that of the chosen tokens under the fixture's logits.
                Assert.True(single.LogProbability < 0);
                Assert.Equal(single.LogProbability, inBatch.LogProbability, 3);
            }
        }
    }

    [SharedFact]
    public void SamplingIsDeterministicForASeedAndIndependentOfBatchingAndCache()
    {
        using var temp = new TempDir();
        using var model = MaskedLanguageModel.Load(HeadFixtures.ModelDirectory("roformer-tiny-mlm", temp), threads: 2);
        var sources = Traces("roformer-tiny-mlm").Select(t => t.GetProperty("source").GetString()!).Take(3).ToList();
        var options = new DecodingOptions { Candidates = 5, TopP = 0.9, TopK = 50, Temperature = 0.8, Seed = 7, MaxNewTokens = 12 };
        var all = model.Generate(sources, options);
        var again = model.Generate(sources, options);
        var alone = model.Generate([sources[1]], options)[0];
        var recomputed = model.Generate(sources, options with { UseCache = false });
        var otherSeed = model.Generate(sources, options with { Seed = 8 });
        for (int i = 0; i < sources.Count; i++)
        {
            Assert.Equal(5, all[i].Candidates.Length);
            Assert.Equal(Ids(all[i]), Ids(again[i]));
            Assert.Equal(Ids(all[i]), Ids(recomputed[i]));
            Assert.NotEqual(Ids(all[i]), Ids(otherSeed[i]));
            foreach (var c in all[i].Candidates)
            {
                Assert.True(c.Ids.Length <= 12);
                Assert.DoesNotContain(c.Ids, id => id is 0 or 100 or 101 or 103 or 102);
            }
        }
        Assert.Equal(Ids(all[1]), Ids(alone));
        // Five candidates of one source are not all the same draw.
        Assert.True(all[0].Candidates.Select(c => string.Join(',', c.Ids)).Distinct().Count() > 1);
    }

    [SharedFact]
    public void TopKOneAndATinyNucleusAreGreedyAndOneBeamIsGreedyToo()
    {
        using var temp = new TempDir();
        using var model = MaskedLanguageModel.Load(HeadFixtures.ModelDirectory("bert-tiny-mlm", temp), threads: 2);
        var traces = Traces("bert-tiny-mlm");
        var sources = traces.Select(t => t.GetProperty("source").GetString()!).ToList();
        var topK = model.Generate(sources, new DecodingOptions { TopK = 1, TopP = 1, Seed = 3 });
        var nucleus = model.Generate(sources, new DecodingOptions { TopP = 1e-6, Seed = 3 });
        var beam = model.Generate(sources, new DecodingOptions { Strategy = DecodingStrategy.Beam, Beams = 1 });
        for (int i = 0; i < traces.Count; i++)
        {
            var expected = HeadFixtures.Ints(traces[i], "generated_ids");
            Assert.Equal(expected, topK[i].Candidates.Single().Ids);
            Assert.Equal(expected, nucleus[i].Candidates.Single().Ids);
            Assert.Equal(expected, beam[i].Candidates.Single().Ids);
        }
    }

    [SharedFact]
    public void BeamSearchReturnsScoredHypothesesBestFirstAndTheCacheChangesNothing()
    {
        using var temp = new TempDir();
        using var model = MaskedLanguageModel.Load(HeadFixtures.ModelDirectory("bert-tiny-mlm", temp), threads: 2);
        var sources = Traces("bert-tiny-mlm").Select(t => t.GetProperty("source").GetString()!).Take(4).ToList();
        var options = new DecodingOptions { Strategy = DecodingStrategy.Beam, Beams = 4, Candidates = 3, LengthPenalty = 1.0, MaxNewTokens = 16 };
        var cached = model.Generate(sources, options);
        var recomputed = model.Generate(sources, options with { UseCache = false });
        var greedy = model.Generate(sources, new DecodingOptions { Strategy = DecodingStrategy.Greedy, MaxNewTokens = 16 });
        for (int i = 0; i < sources.Count; i++)
        {
            var c = cached[i].Candidates;
            Assert.Equal(3, c.Length);
            Assert.Equal(Ids(cached[i]), Ids(recomputed[i]));
            for (int j = 0; j < c.Length; j++)
            {
                int length = c[j].Ids.Length + (c[j].Stop == StopReason.Sep ? 1 : 0);
                Assert.Equal(c[j].LogProbability / length, c[j].BeamScore!.Value, 9);
                if (j > 0) Assert.True(c[j - 1].BeamScore >= c[j].BeamScore);
            }
            // The best beam is at least as likely (length-normalised) as the greedy path.
            var g = greedy[i].Candidates[0];
            Assert.True(c[0].BeamScore >= g.LogProbability / (g.Ids.Length + (g.Stop == StopReason.Sep ? 1 : 0)) - 1e-6);
        }
    }

    [SharedFact]
    public void RankingKeepsTheClosestDistinctNonCopiesBestFirst()
    {
        using var temp = new TempDir();
        using var model = MaskedLanguageModel.Load(HeadFixtures.ModelDirectory("bert-tiny-mlm", temp), threads: 2);
        var sources = Traces("bert-tiny-mlm").Select(t => t.GetProperty("source").GetString()!).Take(2).ToList();
        var options = new DecodingOptions { Candidates = 8, TopK = 3, TopP = 1, Seed = 1, MaxNewTokens = 6 };
        var ranked = model.GenerateRanked(sources, options, keep: 3);
        for (int i = 0; i < sources.Count; i++)
        {
            var c = ranked[i].Candidates;
            Assert.InRange(c.Length, 1, 3);
            Assert.Equal(c.Length, c.Select(x => string.Join(',', x.Ids)).Distinct().Count());
            Assert.All(c, x => Assert.NotNull(x.Similarity));
            for (int j = 1; j < c.Length; j++) Assert.True(c[j - 1].Similarity >= c[j].Similarity);
            var source = model.Tokenizer.Encode(sources[i], 0).Ids;
            var vectors = model.SentenceVectors([source, [model.Tokenizer.ClsId, .. c[0].Ids, model.Tokenizer.SepId]]);
            Assert.Equal(System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(vectors[0], vectors[1]), c[0].Similarity!.Value, 5);
        }
    }

    [SharedFact]
    public void RankingUsesThePoolerUnlessTheDirectoryDeclaresClsPooling()
    {
        using var temp = new TempDir();
        var dir = HeadFixtures.ModelDirectory("bert-tiny-mlm", temp, keepPooler: true);
        const string text = "a man is playing a guitar.";
        float[] Vector()
        {
            using var model = MaskedLanguageModel.Load(dir, threads: 1);
            return model.SentenceVectors([model.Tokenizer.Encode(text, 0).Ids])[0];
        }
        float[] Encoded(string pooling)
        {
            using var encoder = Semblance.Embeddings.SentenceEncoder.Load(dir, new Semblance.Embeddings.EncoderOptions { Pooling = pooling, Threads = 1 });
            return encoder.Encode(text, normalize: false);
        }
        var pooler = Encoded("pooler");
        var cls = Encoded("cls");
        Assert.True(System.Numerics.Tensors.TensorPrimitives.Distance(pooler, cls) > 1e-3f);
        Assert.Equal(pooler, Vector(), (a, b) => Math.Abs(a - b) < 1e-5f);
        // What `train --loss simbert` writes: its contrast shapes the [CLS] row, so the ranker must use that row.
        Semblance.Embeddings.SentenceTransformersConfig.WriteRecordedPooling(dir, Semblance.Embeddings.PoolingMode.Cls);
        Assert.Equal(cls, Vector(), (a, b) => Math.Abs(a - b) < 1e-5f);
    }

    [SharedFact]
    public void TheCliPrintsOneObjectPerLineAndRefusesBadSettings()
    {
        using var temp = new TempDir();
        var dir = HeadFixtures.ModelDirectory("roformer-tiny-mlm", temp);
        var input = "今天天气很好。\n我爱自然语言处理。\n";
        var (code, stdout, err) = CliAppTests.RunWithInput(input, "generate", "--model", dir, "-n", "3", "--beams", "4", "--rank", "--max-new-tokens", "8");
        Assert.True(code == 0, err);
        var lines = stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        var first = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal("今天天气很好。", first.GetProperty("source").GetString());
        foreach (var c in first.GetProperty("candidates").EnumerateArray())
        {
            Assert.True(c.GetProperty("similarity").GetDouble() <= 1.000001);
            Assert.True(c.TryGetProperty("score", out _));
            Assert.Equal(JsonValueKind.Array, c.GetProperty("ids").ValueKind);
        }

        (code, stdout, err) = CliAppTests.RunWithInput(input, "generate", "--model", dir, "-n", "2", "--top-p", "0.9", "--seed", "5", "--max-new-tokens", "5");
        Assert.True(code == 0, err);
        Assert.All(stdout.TrimEnd('\n').Split('\n'), l => Assert.Equal(2, JsonDocument.Parse(l).RootElement.GetProperty("candidates").GetArrayLength()));

        foreach (var bad in new[] { new[] { "-n", "0" }, ["-n", "65"], ["--top-p", "0"], ["--top-p", "1.5"], ["--greedy", "-n", "2"],
                     ["--beams", "2", "-n", "3"], ["--beams", "2", "--top-p", "0.9"], ["--temperature", "0"] })
        {
            (code, _, err) = CliAppTests.RunWithInput(input, ["generate", "--model", dir, .. bad]);
            Assert.True(code == 2, string.Join(' ', bad) + ": " + err);
            Assert.StartsWith("error: ", err);
            Assert.DoesNotContain("   at ", err);
            if (bad is ["--top-p", _]) Assert.Contains("out of range (0, 1]", err);
        }
        (code, _, err) = CliAppTests.RunWithInput(input, "generate", "--model", dir, "--max-new-tokens", "63");
        Assert.Equal(1, code);
        Assert.Contains("leaves no room for a source", err);
    }

    [SharedFact]
    public void ALongSourceIsTruncatedWithANoteAndGenerationIsBounded()
    {
        using var temp = new TempDir();
        var dir = HeadFixtures.ModelDirectory("roformer-tiny-mlm", temp);
        var source = string.Concat(Enumerable.Repeat("我爱自然语言处理。", 20));
        var (code, stdout, err) = CliAppTests.RunWithInput(source + "\n", "generate", "--model", dir, "--greedy", "--max-new-tokens", "30");
        Assert.True(code == 0, err);
        Assert.Contains("truncated", err);
        var ids = JsonDocument.Parse(stdout).RootElement.GetProperty("ids").GetArrayLength();
        Assert.InRange(ids, 0, 30);
    }

    [Fact]
    public void ACacheRefusesRowsTheCachedOnesWouldHaveSeen()
    {
        var cache = new KeyValueCache(layers: 1, slots: 2, capacity: 4, width: 2);
        cache.Stage(new TokenBatch([5, 6], [0, 0], [0, 2]), [0]);
        cache.Commit();
        Assert.Equal(2, cache.Length(0));
        Assert.Throws<ArgumentException>(() => cache.Stage(new TokenBatch([7], [0], [0, 1]), [0]));
        Assert.Throws<SemblanceException>(() => cache.Stage(new TokenBatch([7, 8, 9], [1, 1, 1], [0, 3]), [0]));
        cache.Reorder([0, 0]);
        Assert.Equal(2, cache.Length(1));
        Span<float> mask = stackalloc float[3];
        cache.Stage(new TokenBatch([7], [1], [0, 1]), [1]);
        Assert.False(cache.FillMask(1, 1, 3, mask));
    }

    private static string[] Ids(GenerationResult r) => r.Candidates.Select(c => string.Join(',', c.Ids)).ToArray();
}
