// Loading a tokenizer from a model directory (tokenizer.json or vocab.txt + configs) and the errors for bad directories.
using Semblance.Text;

namespace Semblance.Tests.Text;

public sealed class BertTokenizerLoaderTests : IDisposable
{
    private static readonly string[] Tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", "café", "cafe", "##s"];

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "semblance-loader-" + Guid.NewGuid().ToString("N"));

    public BertTokenizerLoaderTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Write(string name, string content) => File.WriteAllText(Path.Combine(_dir, name), content);

    private static string TokenizerJson(string modelType = "WordPiece", string lowercase = "true", string stripAccents = "null",
        string addedTokens = "[]", string postProcessor = """{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}}],"special_tokens":{"[CLS]":{"id":"[CLS]","ids":[2],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[3],"tokens":["[SEP]"]}}}""")
    {
        var vocab = "{" + string.Join(",", Tokens.Select((t, i) => $"\"{t}\":{i}")) + "}";
        return """
            {"version":"1.0","added_tokens":ADDED,
             "normalizer":{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":STRIP,"lowercase":LOWER},
             "pre_tokenizer":{"type":"BertPreTokenizer"},
             "post_processor":POST,
             "model":{"type":"TYPE","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,"vocab":VOCAB}}
            """.Replace("ADDED", addedTokens).Replace("STRIP", stripAccents).Replace("LOWER", lowercase)
            .Replace("POST", postProcessor).Replace("TYPE", modelType).Replace("VOCAB", vocab);
    }

    [Fact]
    public void LoadsTokenizerJson()
    {
        Write("tokenizer.json", TokenizerJson());
        var tokenizer = BertTokenizer.Load(_dir);
        var encoded = tokenizer.Encode("Hello WORLDS! Café", 0);
        Assert.Equal(["[CLS]", "hello", "world", "##s", "!", "cafe", "[SEP]"], encoded.Tokens);
        Assert.Equal([2, 5, 6, 10, 7, 9, 3], encoded.Ids);
        Assert.Equal(0, tokenizer.PadId);
        Assert.Equal(4, tokenizer.MaskId);
        Assert.Null(tokenizer.ModelMaxLength);
    }

    [Fact]
    public void ReadsTheNormalizerFlagsAndLetsTokenizerConfigOverrideThem()
    {
        Write("tokenizer.json", TokenizerJson(lowercase: "true", stripAccents: "false"));
        Assert.Equal(["café"], BertTokenizer.Load(_dir).Tokenize("Café"));
        Write("tokenizer_config.json", """{"do_lower_case": false, "model_max_length": 1000000000000000019884624838656}""");
        var tokenizer = BertTokenizer.Load(_dir);
        Assert.False(tokenizer.DoLowerCase);
        Assert.Equal(["[UNK]"], tokenizer.Tokenize("Café"));
        Assert.Null(tokenizer.ModelMaxLength);
    }

    [Fact]
    public void LoadsVocabTxtWithConfigAndSpecialTokensMap()
    {
        File.WriteAllLines(Path.Combine(_dir, "vocab.txt"), [.. Tokens, "<x>"]);
        Write("tokenizer_config.json", """{"do_lower_case": true, "strip_accents": false, "model_max_length": 128, "never_split": null, "mask_token": {"content": "[MASK]", "lstrip": true}}""");
        Write("special_tokens_map.json", """{"additional_special_tokens": ["<x>"]}""");
        var tokenizer = BertTokenizer.Load(_dir);
        Assert.Equal(128, tokenizer.ModelMaxLength);
        Assert.Equal(12, tokenizer.VocabSize);
        Assert.Equal(["café", "<x>", "hello"], tokenizer.Tokenize("CAFÉ<x>hello"));
    }

    [Fact]
    public void VocabTxtLinesEndOnlyAtLineBreaksNotAtUnicodeSeparators()
    {
        File.WriteAllText(Path.Combine(_dir, "vocab.txt"), "[PAD]\r\n[UNK]\n[CLS]\n[SEP]\n\u2028\nhello\u2029world\n\n\u00A0x\n");
        var vocabulary = Vocabulary.ReadVocabTxt(Path.Combine(_dir, "vocab.txt"));
        Assert.Equal(8, vocabulary.Count);
        Assert.Equal("[UNK]", vocabulary[1]);
        Assert.Equal("\u2028", vocabulary[4]);
        Assert.Equal("hello\u2029world", vocabulary[5]);
        Assert.Equal("", vocabulary[6]);
        Assert.Equal("\u00A0x", vocabulary[7]);
        var tokenizer = BertTokenizer.Load(_dir);
        Assert.Null(tokenizer.MaskId);
        Assert.Equal([2, 1, 3], tokenizer.Encode("hello", 0).Ids);
    }

    [Fact]
    public void AddedTokensBeyondTheVocabularyTakeTheNextIds()
    {
        Write("tokenizer.json", TokenizerJson(addedTokens: """[{"id":1,"content":"[UNK]","special":true},{"id":11,"content":"<e1>","special":false}]"""));
        var tokenizer = BertTokenizer.Load(_dir);
        Assert.Equal(12, tokenizer.VocabSize);
        Assert.Equal([2, 5, 11, 6, 3], tokenizer.Encode("hello<e1>world", 0).Ids);

        Write("tokenizer.json", TokenizerJson(addedTokens: """[{"id":20,"content":"<e1>"}]"""));
        var error = Assert.Throws<ModelFormatException>(() => BertTokenizer.Load(_dir));
        Assert.Contains("next free id 11", error.Message);
    }

    [Fact]
    public void BertProcessingIsAccepted()
    {
        Write("tokenizer.json", TokenizerJson(postProcessor: """{"type":"BertProcessing","sep":["[SEP]",3],"cls":["[CLS]",2]}"""));
        Assert.Equal([2, 5, 3], BertTokenizer.Load(_dir).Encode("hello", 0).Ids);
    }

    [Fact]
    public void MissingDirectoryOrVocabularyNamesTheDirectory()
    {
        var missing = Path.Combine(_dir, "nope");
        Assert.Contains(missing, Assert.Throws<ModelFormatException>(() => BertTokenizer.Load(missing)).Message);
        var error = Assert.Throws<ModelFormatException>(() => BertTokenizer.Load(_dir));
        Assert.Contains(_dir, error.Message);
        Assert.Contains("vocab.txt", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void MalformedJsonNamesTheFile()
    {
        Write("tokenizer.json", "{\"model\": ");
        var error = Assert.Throws<ModelFormatException>(() => BertTokenizer.Load(_dir));
        Assert.Contains(Path.Combine(_dir, "tokenizer.json"), error.Message);
        Assert.Contains("malformed JSON", error.Message);

        File.Delete(Path.Combine(_dir, "tokenizer.json"));
        File.WriteAllLines(Path.Combine(_dir, "vocab.txt"), Tokens);
        Write("tokenizer_config.json", "[1, 2]");
        error = Assert.Throws<ModelFormatException>(() => BertTokenizer.Load(_dir));
        Assert.Contains("tokenizer_config.json", error.Message);
        Assert.Contains("expected a JSON object", error.Message);

        Write("tokenizer_config.json", """{"do_lower_case": "yes"}""");
        error = Assert.Throws<ModelFormatException>(() => BertTokenizer.Load(_dir));
        Assert.Contains("do_lower_case is the string \"yes\"", error.Message);
    }

    [Theory]
    [InlineData("Unigram")]
    [InlineData("BPE")]
    public void NonWordPieceModelsAreRejected(string type)
    {
        Write("tokenizer.json", TokenizerJson(modelType: type));
        var error = Assert.Throws<ModelFormatException>(() => BertTokenizer.Load(_dir));
        Assert.Contains($"\"{type}\"", error.Message);
        Assert.Contains("only WordPiece", error.Message);
    }

    [Fact]
    public void UnsupportedPipelinePartsAreRejectedWithTheField()
    {
        Write("tokenizer.json", TokenizerJson().Replace("BertPreTokenizer", "Whitespace"));
        Assert.Contains("pre_tokenizer.type", Assert.Throws<ModelFormatException>(() => BertTokenizer.Load(_dir)).Message);
        Write("tokenizer.json", TokenizerJson(postProcessor: """{"type":"RobertaProcessing"}"""));
        Assert.Contains("post_processor.type", Assert.Throws<ModelFormatException>(() => BertTokenizer.Load(_dir)).Message);
        Write("tokenizer.json", TokenizerJson().Replace("\"[CLS]\":2", "\"[CLS]\":5"));
        Assert.Contains("give", Assert.Throws<ModelFormatException>(() => BertTokenizer.Load(_dir)).Message);
    }

    [Fact]
    public void ASpecialTokenNamedByTheConfigButMissingFromTheVocabularyIsAnError()
    {
        File.WriteAllLines(Path.Combine(_dir, "vocab.txt"), Tokens);
        Write("special_tokens_map.json", """{"cls_token": "<s>"}""");
        var error = Assert.Throws<ModelFormatException>(() => BertTokenizer.Load(_dir));
        Assert.Contains("cls_token '<s>'", error.Message);
        Assert.Contains(_dir, error.Message);
    }
}
