// Behaviour of BertTokenizer on a tiny in-test vocabulary: WordPiece, truncation, special tokens, cleanup, casing.
using Semblance.Text;

namespace Semblance.Tests.Text;

public sealed class BertTokenizerTests
{
    private static readonly string[] Tokens =
    [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", ",", ".", "[", "]", "mask",
        "un", "##aff", "##able", "##ab", "x", "##x", "foo", "bar", "cafe", "café", "Café", "Cafe", "é",
        "σ", "##σ", "i", "中", "国", "##国", "a", "b", "##b", "<s>", "𝔘", "##𝔘", "zero", "##width", "\u2028",
    ];

    private static BertTokenizer Create(BertTokenizerOptions? options = null) => new(new Vocabulary(Tokens), options);

    private static int Id(string token) => Array.IndexOf(Tokens, token);

    [Fact]
    public void SplitsOnWhitespaceAndPunctuationAndLowercases()
    {
        Assert.Equal(["hello", ",", "world", "!"], Create().Tokenize("  Hello,\tWORLD!\n"));
    }

    [Fact]
    public void WordPieceTakesTheLongestMatchFirst()
    {
        Assert.Equal(["un", "##aff", "##able"], Create().Tokenize("unaffable"));
        Assert.Equal(["un", "##ab"], Create().Tokenize("unab"));
    }

    [Fact]
    public void AWordWithAnUnmatchedRemainderIsOneUnknownToken()
    {
        // "un" and "##x" match, but nothing matches "##yz": the whole word is [UNK], not un ##x [UNK].
        Assert.Equal(["hello", "[UNK]", "world"], Create().Tokenize("hello unxyz world"));
        Assert.Equal([Id("[CLS]"), Id("hello"), Id("[UNK]"), Id("[SEP]")], Create().Encode("hello unxyz", 0).Ids);
    }

    [Fact]
    public void WordsOfUpTo100CodePointsAreSplitAndLongerOnesAreUnknown()
    {
        var tokenizer = Create();
        Assert.Equal(["x", .. Enumerable.Repeat("##x", 99)], tokenizer.Tokenize(new string('x', 100)));
        Assert.Equal(["[UNK]"], tokenizer.Tokenize(new string('x', 101)));
        // The limit counts code points: 100 surrogate pairs are 200 UTF-16 units but still 100 characters.
        var doubleStruck = string.Concat(Enumerable.Repeat("𝔘", 100));
        Assert.Equal(["𝔘", .. Enumerable.Repeat("##𝔘", 99)], Create(new() { DoLowerCase = false }).Tokenize(doubleStruck));
        Assert.Equal(["[UNK]"], Create(new() { DoLowerCase = false }).Tokenize(doubleStruck + "𝔘"));
        Assert.Equal(["x", "##x"], Create(new() { MaxInputCharsPerWord = 2 }).Tokenize("xx"));
        Assert.Equal(["[UNK]"], Create(new() { MaxInputCharsPerWord = 2 }).Tokenize("xxx"));
    }

    [Fact]
    public void SpecialTokenTextIsRecognisedInsideWordsAndNotLowercased()
    {
        var tokenizer = Create();
        Assert.Equal(["foo", "[MASK]", "bar"], tokenizer.Tokenize("FOO[MASK]bar"));
        Assert.Equal(["[", "mask", "]"], tokenizer.Tokenize("[mask]"));
        Assert.Equal(["[", "mask", "]"], tokenizer.Tokenize("[Mask]"));
        var encoded = tokenizer.Encode("a[SEP]b [CLS]", 0);
        Assert.Equal(["[CLS]", "a", "[SEP]", "b", "[CLS]", "[SEP]"], encoded.Tokens);
        Assert.Equal([Id("[CLS]"), Id("a"), Id("[SEP]"), Id("b"), Id("[CLS]"), Id("[SEP]")], encoded.Ids);
    }

    [Fact]
    public void ASpecialTokenProducedByLowercasingIsStillRecognised()
    {
        // The reference lowercases first and splits special tokens after, so "<S>" becomes the special token "<s>".
        var tokenizer = Create(new() { AdditionalSpecialTokens = ["<s>"] });
        Assert.Equal(["a", "<s>", "b"], tokenizer.Tokenize("a<S>b"));
        Assert.Equal(["a", "[UNK]", "[UNK]", "[UNK]", "b"], Create().Tokenize("a <s> b"));
    }

    [Fact]
    public void EmptyAndBlankTextGiveClsSep()
    {
        foreach (var text in new[] { "", "   ", "\t\n\u3000\u200B" })
        {
            var encoded = Create().Encode(text, 64);
            Assert.Equal([Id("[CLS]"), Id("[SEP]")], encoded.Ids);
            Assert.Equal(["[CLS]", "[SEP]"], encoded.Tokens);
            Assert.Equal([0, 0], encoded.TypeIds);
            Assert.Empty(Create().Tokenize(text));
        }
    }

    [Fact]
    public void EncodeTruncatesPiecesOnTheRightToTheTotalLength()
    {
        var tokenizer = Create();
        const string text = "hello world unaffable foo bar";
        var full = tokenizer.Encode(text, 0);
        Assert.Equal(9, full.Length);
        Assert.Equal(full.Ids, tokenizer.Encode(text, 100).Ids);
        Assert.Equal(full.Ids, tokenizer.Encode(text, 9).Ids);
        for (int max = 2; max < 9; max++)
        {
            var cut = tokenizer.Encode(text, max);
            Assert.Equal(max, cut.Length);
            Assert.Equal([.. full.Ids[..(max - 1)], Id("[SEP]")], cut.Ids);
            Assert.Equal([.. full.Tokens[..(max - 1)], "[SEP]"], cut.Tokens);
            Assert.Equal(new int[max], cut.TypeIds);
        }
        Assert.Equal(["[CLS]", "hello", "world", "un", "[SEP]"], tokenizer.Encode(text, 5).Tokens);
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Encode(text, 1));
    }

    [Fact]
    public void AccentsAreStrippedWhenLowercasingUnlessDisabled()
    {
        Assert.Equal(["cafe"], Create().Tokenize("Café"));
        Assert.Equal(["cafe"], Create().Tokenize("Cafe\u0301"));
        Assert.Equal(["café"], Create(new() { StripAccents = false }).Tokenize("CAFÉ"));
        Assert.Equal(["Café"], Create(new() { DoLowerCase = false }).Tokenize("Café"));
        Assert.Equal(["Cafe"], Create(new() { DoLowerCase = false, StripAccents = true }).Tokenize("Café"));
        // NFC composes the decomposed form even without lowercasing.
        Assert.Equal(["Café"], Create(new() { DoLowerCase = false }).Tokenize("Cafe\u0301"));
    }

    [Fact]
    public void LowercasingIsPerCharacterLikePython()
    {
        // Per character, Σ always becomes σ (no final ς); İ becomes i + U+0307, whose mark accent stripping removes.
        Assert.Equal(["σ", "##σ"], Create().Tokenize("ΣΣ"));
        Assert.Equal(["i"], Create().Tokenize("İ"));
    }

    [Fact]
    public void ControlAndFormatCharactersAreDeletedNotTurnedIntoSpaces()
    {
        Assert.Equal(["zero", "##width"], Create().Tokenize("zero\u200Bwidth"));
        Assert.Equal(["a", "##b"], Create().Tokenize("a\u0000\uFFFD\u00AD\uFEFF\uE000\uFDD0b"));
        Assert.Equal(["hello", "world"], Create().Tokenize("hello\u2028world\u00A0"));
    }

    [Fact]
    public void WithoutCleanTextControlCharactersStayInTheWord()
    {
        Assert.Equal(["[UNK]"], Create(new() { CleanText = false }).Tokenize("zero\u200Bwidth"));
        Assert.Equal(["hello", "world"], Create(new() { CleanText = false }).Tokenize("hello\tworld"));
    }

    [Fact]
    public void CjkIdeographsAreSeparateWordsUnlessDisabled()
    {
        Assert.Equal(["中", "国"], Create().Tokenize("中国"));
        Assert.Equal(["a", "中", "b"], Create().Tokenize("a中b"));
        Assert.Equal(["中", "##国"], Create(new() { TokenizeChineseChars = false }).Tokenize("中国"));
    }

    [Fact]
    public void CodePointsAssignedAfterUnicode14AreDeletedAsTheReferenceDoes()
    {
        var tokenizer = Create();
        // U+2B739 (CJK Extension C, Unicode 15.0) and U+31350 (Extension H): unassigned for the reference.
        Assert.Equal(["中", "国"], tokenizer.Tokenize("中\U0002B739国"));
        Assert.Equal(["a", "##b"], tokenizer.Tokenize("a\U00031350b"));
        // U+A7CB (16.0) lowercases to U+0264 in newer Unicode; for the reference it is unassigned, so deleted.
        Assert.Equal(["x", "##x"], tokenizer.Tokenize("x\uA7CBx"));
        // U+1FAE8 SHAKING FACE (emoji 15.0).
        Assert.Equal(["x", "##x"], tokenizer.Tokenize("x\U0001FAE8x"));
        // U+1171E was Mn in 14.0 (Mc since 15.0): accent stripping removes it.
        Assert.Equal(["x", "##x"], tokenizer.Tokenize("x\U0001171Ex"));
        Assert.Equal(["[UNK]"], Create(new() { DoLowerCase = false }).Tokenize("x\U0001171Ex"));
    }

    [Fact]
    public void NeverSplitWordsBypassPunctuationSplitAndWordPiece()
    {
        var tokenizer = Create(new() { NeverSplit = ["hello!"] });
        var encoded = tokenizer.Encode("Hello! hello", 0);
        Assert.Equal(["[CLS]", "hello!", "hello", "[SEP]"], encoded.Tokens);
        Assert.Equal([Id("[CLS]"), Id("[UNK]"), Id("hello"), Id("[SEP]")], encoded.Ids);
    }

    [Fact]
    public void ConcurrentEncodesGiveTheSameResultsAsSequentialOnes()
    {
        var tokenizer = Create();
        var texts = Enumerable.Range(0, 2000)
            .Select(i => $"Hello{new string('x', i % 120)} [MASK] 中国 café unaffable {i}").ToArray();
        var sequential = texts.Select(t => tokenizer.Encode(t, 16)).ToArray();
        var parallel = new TokenizedText[texts.Length];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => parallel[i] = tokenizer.Encode(texts[i], 16));
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(sequential[i].Ids, parallel[i].Ids);
            Assert.Equal(sequential[i].Tokens, parallel[i].Tokens);
        }
    }

    [Fact]
    public void ExposesIdsOfTheSpecialTokens()
    {
        var tokenizer = Create();
        Assert.Equal(Tokens.Length, tokenizer.VocabSize);
        Assert.Equal((0, 1, 2, 3, 4), (tokenizer.PadId, tokenizer.UnkId, tokenizer.ClsId, tokenizer.SepId, tokenizer.MaskId));
        Assert.True(tokenizer.DoLowerCase);
        Assert.Null(tokenizer.ModelMaxLength);
    }

    [Fact]
    public void ASpecialTokenMissingFromTheVocabularyIsAModelFormatError()
    {
        var error = Assert.Throws<ModelFormatException>(() => Create(new() { ClsToken = "<cls>" }));
        Assert.Contains("cls_token '<cls>'", error.Message);
        Assert.Throws<ModelFormatException>(() => Create(new() { AdditionalSpecialTokens = ["<extra>"] }));
        Assert.Null(Create(new() { MaskToken = null }).MaskId);
    }
}
