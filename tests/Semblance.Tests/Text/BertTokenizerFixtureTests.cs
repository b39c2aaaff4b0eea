// Checks BertTokenizer against the reference tokens and ids of Hugging Face's slow BertTokenizer in ../shared/fixtures.
using System.Text.Json;
using Semblance.Text;
using Xunit.Abstractions;

namespace Semblance.Tests.Text;

public sealed class BertTokenizerFixtureTests
{
    private readonly ITestOutputHelper _log;

    public BertTokenizerFixtureTests(ITestOutputHelper log) => _log = log;

    [SharedTheory]
    [InlineData("uncased.jsonl", "bert-tiny-uncased", true)]
    [InlineData("chinese.jsonl", "bert-tiny-chinese", true)]
    [InlineData("chinese_cased.jsonl", "bert-tiny-chinese", false)]
    public void TokenizerFixtureLinesMatchExactly(string file, string vocabModel, bool lowercase)
    {
        var tokenizer = BertTokenizer.FromVocabFile(Path.Combine(SharedData.FixtureModel(vocabModel), "vocab.txt"),
            new BertTokenizerOptions { DoLowerCase = lowercase });
        var lines = ReadJsonLines(SharedData.Path("fixtures", "tokenizer", file));
        var failures = new List<string>();
        foreach (var (line, index) in lines.Select((l, i) => (l, i)))
        {
            string text = line.GetProperty("text").GetString()!;
            var tokens = Strings(line.GetProperty("tokens"));
            var ids = Ints(line.GetProperty("input_ids"));
            var actualTokens = tokenizer.Tokenize(text).ToArray();
            var encoded = tokenizer.Encode(text, 0);
            if (!actualTokens.SequenceEqual(tokens) || !encoded.Ids.SequenceEqual(ids))
                failures.Add($"line {index}: {JsonSerializer.Serialize(text)}\n  expected {string.Join(" ", tokens)}\n  actual   {string.Join(" ", actualTokens)}");
            Assert.Equal(encoded.Ids.Length, encoded.TypeIds.Length);
            Assert.All(encoded.TypeIds, t => Assert.Equal(0, t));
        }
        _log.WriteLine($"{file}: {lines.Count - failures.Count}/{lines.Count} lines identical");
        Assert.Equal(255, lines.Count);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [SharedTheory]
    [InlineData("bert-tiny-uncased", true)]
    [InlineData("bert-tiny-chinese", true)]
    [InlineData("roformer-tiny-chinese", true)]
    [InlineData("bert-tiny-uncased", false)]
    [InlineData("bert-tiny-chinese", false)]
    [InlineData("roformer-tiny-chinese", false)]
    public void ModelCasesMatchWhenLoadedFromTheDirectory(string model, bool viaTokenizerJson)
    {
        string source = SharedData.FixtureModel(model);
        string directory = viaTokenizerJson ? source : CopyWithoutTokenizerJson(source);
        try
        {
            var tokenizer = BertTokenizer.Load(directory);
            using var config = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(source, "config.json")));
            int maxLength = config.RootElement.GetProperty("max_position_embeddings").GetInt32();
            Assert.Equal(maxLength, tokenizer.ModelMaxLength);
            Assert.True(tokenizer.DoLowerCase);
            Assert.Equal(config.RootElement.GetProperty("vocab_size").GetInt32(), tokenizer.VocabSize);
            Assert.Equal(config.RootElement.GetProperty("pad_token_id").GetInt32(), tokenizer.PadId);

            var cases = ReadJsonLines(Path.Combine(source, "cases.jsonl"));
            Assert.Equal(17, cases.Count);
            int identical = 0;
            foreach (var item in cases)
            {
                string text = item.GetProperty("text").GetString()!;
                var encoded = tokenizer.Encode(text, maxLength);
                Assert.Equal(Strings(item.GetProperty("tokens")), encoded.Tokens);
                Assert.Equal(Ints(item.GetProperty("input_ids")), encoded.Ids);
                Assert.Equal(Ints(item.GetProperty("token_type_ids")), encoded.TypeIds);
                identical++;
            }
            _log.WriteLine($"{model} via {(viaTokenizerJson ? "tokenizer.json" : "vocab.txt")}: {identical}/{cases.Count} cases identical");
        }
        finally
        {
            if (!viaTokenizerJson) Directory.Delete(directory, recursive: true);
        }
    }

    [SharedTheory]
    [InlineData("bert-tiny-uncased", "uncased.jsonl")]
    [InlineData("bert-tiny-chinese", "chinese.jsonl")]
    public void TokenizerJsonAndVocabTxtGiveTheSameIdsOnEveryFixtureLine(string model, string file)
    {
        string source = SharedData.FixtureModel(model);
        string copy = CopyWithoutTokenizerJson(source);
        try
        {
            var fromJson = BertTokenizer.Load(source);
            var fromVocab = BertTokenizer.Load(copy);
            foreach (var line in ReadJsonLines(SharedData.Path("fixtures", "tokenizer", file)))
            {
                string text = line.GetProperty("text").GetString()!;
                Assert.Equal(fromVocab.Encode(text, 0).Ids, fromJson.Encode(text, 0).Ids);
            }
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    private static string CopyWithoutTokenizerJson(string source)
    {
        string target = Path.Combine(Path.GetTempPath(), "semblance-tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(target);
        foreach (var name in new[] { "vocab.txt", "tokenizer_config.json", "special_tokens_map.json" })
            File.Copy(Path.Combine(source, name), Path.Combine(target, name));
        return target;
    }

    internal static List<JsonElement> ReadJsonLines(string path) =>
        File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    private static string[] Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToArray();

    private static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();
}
