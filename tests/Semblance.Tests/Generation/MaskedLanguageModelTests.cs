// Masked-LM heads, the UniLM mask and greedy generation against Hugging Face's own BertForMaskedLM / RoFormerForMaskedLM.
using System.Text.Json;
using Semblance.Generation;
using Semblance.Models;
using Semblance.Tests.Cli;
using Semblance.Tests.CrossEncoders;
using Semblance.Tests.Models;

namespace Semblance.Tests.Generation;

public class MaskedLanguageModelTests
{
    [SharedTheory]
    [InlineData("bert-tiny-mlm")]
    [InlineData("roformer-tiny-mlm")]
    public void LogitsMatchTransformersUnderBothMasks(string name)
    {
        using var temp = new TempDir();
        using var model = MaskedLanguageModel.Load(HeadFixtures.ModelDirectory(name, temp), threads: 2);
        using var expected = SafeTensorsFile.Open(Path.Combine(HeadFixtures.Dir(name), "expected.safetensors"));
        var cases = HeadFixtures.Cases(name);
        int v = model.VocabSize;
        for (int i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            var ids = HeadFixtures.Ints(c, "input_ids");
            var types = HeadFixtures.Ints(c, "token_type_ids");
            bool unilm = c.GetProperty("attention").GetString() == "unilm";
            if (!unilm)
            {
                var encoded = model.Tokenizer.Encode(c.GetProperty("text").GetString()!, 0);
                Assert.Equal(ids, encoded.Ids);
            }
            var positions = Enumerable.Range(0, ids.Length).ToArray();
            var logits = model.Logits(ids, types, unilm, positions);
            var top5 = expected.ReadFloat($"{i}.top5.values").Span;
            var logsumexp = expected.ReadFloat($"{i}.logsumexp").Span;
            var argmax = HeadFixtures.Ints(c, "argmax");
            for (int t = 0; t < ids.Length; t++)
                AssertRowMatches(logits.AsSpan(t * v, v), argmax[t], top5.Slice(t * 5, 5), logsumexp[t], $"case {i} position {t}");
        }
    }

    /// <summary>A logit row against the fixture: its argmax, its five largest values and its logsumexp, within 1e-4.</summary>
    internal static void AssertRowMatches(ReadOnlySpan<float> row, int argmax, ReadOnlySpan<float> top5, float logsumexp, string where)
    {
        Assert.Equal(argmax, System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row));
        var sorted = row.ToArray();
        Array.Sort(sorted);
        Array.Reverse(sorted);
        for (int r = 0; r < 5; r++)
            Assert.True(Math.Abs(sorted[r] - top5[r]) <= 1e-4, $"{where} rank {r}: {sorted[r]} vs {top5[r]}");
        double lse = Math.Log(row.ToArray().Sum(x => Math.Exp(x)));
        Assert.True(Math.Abs(lse - logsumexp) <= 1e-4, $"{where}: logsumexp {lse} vs {logsumexp}");
    }

    [SharedTheory]
    [InlineData("bert-tiny-mlm")]
    [InlineData("roformer-tiny-mlm")]
    public void GreedyGenerationMatchesTokenForToken(string name)
    {
        using var temp = new TempDir();
        var dir = HeadFixtures.ModelDirectory(name, temp);
        using var model = MaskedLanguageModel.Load(dir, threads: 1);
        var traces = File.ReadLines(Path.Combine(HeadFixtures.Dir(name), "greedy.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        foreach (var trace in traces)
        {
            var g = model.GenerateGreedy(trace.GetProperty("source").GetString()!, 24);
            Assert.Equal(HeadFixtures.Ints(trace, "generated_ids"), g.Ids);
            Assert.Equal(trace.GetProperty("stop").GetString(), g.Stop == StopReason.Sep ? "sep" : "max_new_tokens");
        }

        var input = string.Join('\n', traces.Select(t => t.GetProperty("source").GetString())) + "\n";
        var (code, stdout, err) = CliAppTests.RunWithInput(input, "generate", "--model", dir, "--greedy", "--max-new-tokens", "24");
        Assert.True(code == 0, err);
        var lines = stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(traces.Count, lines.Length);
        for (int i = 0; i < traces.Count; i++)
        {
            var o = JsonDocument.Parse(lines[i]).RootElement;
            Assert.Equal(HeadFixtures.Ints(traces[i], "generated_ids"), o.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray());
            Assert.Equal(model.Decode(HeadFixtures.Ints(traces[i], "generated_ids")), o.GetProperty("text").GetString());
        }
    }

    [SharedFact]
    public void FillMaskPrintsTopKProbabilitiesPerMaskPosition()
    {
        using var temp = new TempDir();
        var dir = HeadFixtures.ModelDirectory("bert-tiny-mlm", temp);
        var c = HeadFixtures.Cases("bert-tiny-mlm")[0];
        var (code, stdout, err) = CliAppTests.RunWithInput(c.GetProperty("text").GetString() + "\nno mask here\n", "fill-mask", "--model", dir, "--top-k", "3");
        Assert.True(code == 0, err);
        var lines = stdout.TrimEnd('\n').Split('\n');
        var entry = JsonDocument.Parse(lines[0]).RootElement.EnumerateArray().Single();
        int position = c.GetProperty("log_softmax_positions")[0].GetInt32();
        Assert.Equal(position, entry.GetProperty("position").GetInt32());
        var top5 = c.GetProperty("top5_ids")[position].EnumerateArray().Select(x => x.GetInt32()).Take(3);
        Assert.Equal(top5, entry.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()));
        using var expected = SafeTensorsFile.Open(Path.Combine(HeadFixtures.Dir("bert-tiny-mlm"), "expected.safetensors"));
        var logSoftmax = expected.ReadFloat("0.log_softmax").Span;
        var scores = entry.GetProperty("scores").EnumerateArray().Select(x => x.GetSingle()).ToArray();
        var ids = entry.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
        for (int j = 0; j < 3; j++) Assert.True(Math.Abs(Math.Log(scores[j]) - logSoftmax[ids[j]]) <= 1e-4);
        Assert.Equal("[]", lines[1]);
    }

    [SharedFact]
    public void AnEncoderWithoutAnMlmHeadIsRefused()
    {
        var e = Assert.Throws<ModelFormatException>(() => MaskedLanguageModel.Load(SharedData.FixtureModel("bert-tiny-uncased")));
        Assert.Contains("no masked-LM head", e.Message);
        var (code, _, err) = CliAppTests.RunWithInput("hello\n", "generate", "--model", SharedData.FixtureModel("bert-tiny-uncased"), "--greedy");
        Assert.Equal(1, code);
        Assert.Contains("no masked-LM head", err);
    }

    [SharedFact]
    public void AHeadWithoutItsOutputBiasIsRefusedNotInvented()
    {
        using var temp = new TempDir();
        var dir = HeadFixtures.ModelDirectory("bert-tiny-mlm", temp);
        var broken = temp.Sub("no-bias");
        var writer = new SafeTensorsWriter();
        using (var f = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors")))
            foreach (var t in f.Tensors.Values.Where(t => !t.Name.EndsWith("predictions.bias", StringComparison.Ordinal)
                                                           && !t.Name.EndsWith("decoder.bias", StringComparison.Ordinal)))
                writer.Add(t.Name, t.Shape, f.ReadFloat(t.Name).Span);
        writer.Save(Path.Combine(broken, "model.safetensors"));
        foreach (var file in Directory.GetFiles(dir).Where(f => !f.EndsWith(".safetensors", StringComparison.Ordinal)))
            File.Copy(file, Path.Combine(broken, Path.GetFileName(file)));
        var e = Assert.Throws<ModelFormatException>(() => MaskedLanguageModel.Load(broken));
        Assert.Contains("no output bias", e.Message);
        var (code, _, err) = CliAppTests.RunWithInput("hello\n", "generate", "--model", broken, "--greedy");
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", err);
        Assert.Contains("no output bias", err);
        Assert.DoesNotContain("   at ", err);
    }
}
