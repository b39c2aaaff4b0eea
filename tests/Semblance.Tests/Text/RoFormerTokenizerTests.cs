// RoFormerTokenizer semantics (jieba words, each whole if a token, else BasicTokenizer + WordPiece) and jieba.NET's segmentation.
using System.Text.Json;
using Semblance.Jieba;
using Semblance.Text;

namespace Semblance.Tests.Text;

public sealed class RoFormerTokenizerTests : IDisposable
{
    // Whole words 北京 and 大学, single characters, and an English word with a continuation piece.
    private static readonly string[] Tokens =
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "北京", "大学", "我", "来", "到", "北", "京", "清", "华", "大", "学", "play", "##ing", "。"];

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "semblance-roformer-" + Guid.NewGuid().ToString("N"));

    public RoFormerTokenizerTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Cuts at the given word boundaries and records what it was asked to segment.</summary>
    private sealed class FixedSegmenter(params string[] words) : IWordSegmenter
    {
        public List<string> Inputs { get; } = [];

        public string Name => "fixed";

        public IEnumerable<string> Segment(string text)
        {
            Inputs.Add(text);
            var output = new List<string>();
            int i = 0;
            while (i < text.Length)
            {
                var word = words.FirstOrDefault(w => string.CompareOrdinal(text, i, w, 0, w.Length) == 0) ?? text[i].ToString();
                output.Add(word);
                i += word.Length;
            }
            return output;
        }
    }

    private static BertTokenizer Tokenizer(IWordSegmenter? segmenter) =>
        new(new Vocabulary(Tokens), new BertTokenizerOptions { WordSegmenter = segmenter });

    [Fact]
    public void AWordInTheVocabularyIsOneTokenAndOtherWordsGoThroughWordPiece()
    {
        var segmenter = new FixedSegmenter("我", "来到", "北京", "清华大学", " ", "playing", "。");
        var tokens = Tokenizer(segmenter).Tokenize("我来到北京清华大学 PLAYING。");
        // 来到 and 清华大学 are not tokens: BasicTokenizer spaces their characters out; PLAYING is lowercased before
        // segmenting (the segmenter sees "playing", not a token) and WordPiece splits it.
        Assert.Equal(["我", "来", "到", "北京", "清", "华", "大", "学", "play", "##ing", "。"], tokens);
        Assert.Equal(["我来到北京清华大学 playing。"], segmenter.Inputs);
        // Without segmentation every CJK character is its own word.
        Assert.Equal(["我", "来", "到", "北", "京", "清", "华", "大", "学", "play", "##ing", "。"], Tokenizer(null).Tokenize("我来到北京清华大学 PLAYING。"));
    }

    [Fact]
    public void SpecialTokensAreCutOutBeforeSegmentingAndTruncationStopsAtAWord()
    {
        var segmenter = new FixedSegmenter("北京", "大学");
        var tokenizer = Tokenizer(segmenter);
        Assert.Equal(["北京", "[MASK]", "大学"], tokenizer.Tokenize("北京[MASK]大学"));
        Assert.Equal(["北京", "大学"], segmenter.Inputs);
        var encoded = tokenizer.Encode("北京大学北京", 4);
        Assert.Equal(["[CLS]", "北京", "大学", "[SEP]"], encoded.Tokens);
        Assert.Equal([2, 5, 6, 3], encoded.Ids);
    }

    private void WriteCheckpoint(string tokenizerClass)
    {
        File.WriteAllLines(Path.Combine(_dir, "vocab.txt"), Tokens);
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), $$"""{"tokenizer_class": "{{tokenizerClass}}", "do_lower_case": true}""");
    }

    [Theory]
    [InlineData("RoFormerTokenizer")]
    [InlineData("RoFormerTokenizerFast")]
    public void ARoFormerTokenizerCheckpointIsRefusedWithoutJieba(string tokenizerClass)
    {
        WriteCheckpoint(tokenizerClass);
        var error = Assert.Throws<ModelFormatException>(() => BertTokenizerLoader.Load(_dir, jieba: null));
        Assert.Contains("tokenizer_config.json: tokenizer_class " + tokenizerClass, error.Message);
        Assert.Contains("jieba", error.Message);
    }

    [Fact]
    public void ARoFormerTokenizerCheckpointSegmentsWithTheGivenJiebaAndABertOneDoesNot()
    {
        WriteCheckpoint("RoFormerTokenizer");
        var tokenizer = BertTokenizerLoader.Load(_dir, new FixedSegmenter("北京", "大学"));
        Assert.Equal(["北京", "大学"], tokenizer.Tokenize("北京大学"));
        WriteCheckpoint("BertTokenizer");
        Assert.Equal(["北", "京", "大", "学"], BertTokenizerLoader.Load(_dir, new FixedSegmenter("北京", "大学")).Tokenize("北京大学"));
    }

    [Fact]
    public void TheCommandRegistersJieba()
    {
        Semblance.Cli.CliApp.Run(["--version"], TextReader.Null, TextWriter.Null, TextWriter.Null);
        Assert.IsType<JiebaWordSegmenter>(WordSegmenters.Jieba);
    }

    [Theory]
    // Dictionary words, precise mode; with the HMM off, unknown 杭研 stays two characters (Python jieba 0.42.1, HMM=False).
    [InlineData("我来到北京清华大学", "我/来到/北京/清华大学")]
    [InlineData("他来到了网易杭研大厦", "他/来到/了/网易/杭/研/大厦")]
    [InlineData("花呗怎么还款", "花/呗/怎么/还款")]
    [InlineData("iPhone 12多少钱?", "iPhone/ /12/多少/钱/?")]
    public void JiebaNetSegmentsOfflineWithTheHmmOff(string text, string expected)
    {
        Assert.Equal(expected.Split('/'), new JiebaWordSegmenter().Segment(text));
    }

    /// <summary>
    /// jieba.NET against Python jieba 0.42.1 (HMM off) on Chinese sentences of ../shared/data: the reference is written by
    /// <c>/usr/bin/python3 tools/jieba_reference.py</c> to $TMPDIR/semblance-jieba-reference.jsonl (or
    /// SEMBLANCE_JIEBA_REFERENCE); skipped without ../shared or without the reference.
    /// </summary>
    [JiebaReferenceFact]
    public void JiebaNetAgreesWithPythonJiebaOnTheSharedSentences()
    {
        string path = JiebaReferenceFactAttribute.ReferencePath;
        var segmenter = new JiebaWordSegmenter();
        int total = 0;
        var mismatches = new List<string>();
        foreach (var line in File.ReadLines(path))
        {
            using var document = JsonDocument.Parse(line);
            string text = document.RootElement.GetProperty("text").GetString()!;
            var expected = document.RootElement.GetProperty("words").EnumerateArray().Select(w => w.GetString()!).ToArray();
            var actual = segmenter.Segment(text).ToArray();
            total++;
            if (!expected.SequenceEqual(actual))
                mismatches.Add($"{text}: python {string.Join('/', expected)} vs ours {string.Join('/', actual)}");
        }
        Assert.True(total > 1000, $"{path}: only {total} sentences");
        Assert.True(mismatches.Count == 0,
            $"{mismatches.Count} of {total} sentences differ; first: {string.Join(" | ", mismatches.Take(5))}");
    }
}

/// <summary>A fact skipped, saying why, when ../shared or the Python jieba reference segmentations are absent.</summary>
public sealed class JiebaReferenceFactAttribute : FactAttribute
{
    public static string ReferencePath => Environment.GetEnvironmentVariable("SEMBLANCE_JIEBA_REFERENCE") is { Length: > 0 } env
        ? env : Path.Combine(Path.GetTempPath(), "semblance-jieba-reference.jsonl");

    public JiebaReferenceFactAttribute()
    {
        if (SharedData.Directory is null) Skip = SharedData.MissingMessage;
        else if (!File.Exists(ReferencePath))
            Skip = $"{ReferencePath} not found: run /usr/bin/python3 tools/jieba_reference.py (needs Debian's python3-jieba) to write Python jieba's segmentations";
    }
}
