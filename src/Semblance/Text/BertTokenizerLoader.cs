// Reads a BERT tokenizer from a Hugging Face model directory: tokenizer.json, or vocab.txt + tokenizer_config.json.
using System.Text.Json;

namespace Semblance.Text;

/// <summary>
/// Builds <see cref="BertTokenizerOptions"/> and the vocabulary from the files of a model directory. Precedence, as
/// in Hugging Face: tokenizer.json (or vocab.txt) first, then tokenizer_config.json (which overrides the normalizer
/// flags, as <c>BertTokenizerFast</c> does), then special_tokens_map.json for the special-token names.
/// </summary>
internal static class BertTokenizerLoader
{
    private const string TokenizerJson = "tokenizer.json";
    private const string VocabTxt = "vocab.txt";
    private const string TokenizerConfigJson = "tokenizer_config.json";
    private const string SpecialTokensMapJson = "special_tokens_map.json";

    private static readonly JsonDocumentOptions JsonOptions = new() { CommentHandling = JsonCommentHandling.Skip };

    public static BertTokenizer Load(string modelDirectory) => Load(modelDirectory, WordSegmenters.Jieba);

    /// <param name="jieba">The segmenter a RoFormerTokenizer checkpoint gets; null refuses such checkpoints.</param>
    internal static BertTokenizer Load(string modelDirectory, IWordSegmenter? jieba)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        if (!Directory.Exists(modelDirectory))
            throw new ModelFormatException($"{modelDirectory}: model directory not found; expected a folder with {TokenizerJson} or {VocabTxt}");

        var files = new List<string>();
        var options = new BertTokenizerOptions();
        bool maskConfigured = false;
        Vocabulary vocabulary;

        string tokenizerPath = Path.Combine(modelDirectory, TokenizerJson);
        string vocabPath = Path.Combine(modelDirectory, VocabTxt);
        if (File.Exists(tokenizerPath))
        {
            files.Add(TokenizerJson);
            using var document = ReadObject(tokenizerPath);
            (vocabulary, options) = ReadTokenizerJson(document.RootElement, tokenizerPath, options);
        }
        else if (File.Exists(vocabPath))
        {
            files.Add(VocabTxt);
            vocabulary = Vocabulary.ReadVocabTxt(vocabPath);
        }
        else
        {
            throw new ModelFormatException($"{modelDirectory}: no tokenizer found; expected {TokenizerJson} (WordPiece) or {VocabTxt} in the model directory");
        }

        string configPath = Path.Combine(modelDirectory, TokenizerConfigJson);
        if (File.Exists(configPath))
        {
            files.Add(TokenizerConfigJson);
            using var document = ReadObject(configPath);
            (vocabulary, options, bool mask) = ReadTokenizerConfig(document.RootElement, configPath, vocabulary, options, jieba);
            maskConfigured |= mask;
        }

        string mapPath = Path.Combine(modelDirectory, SpecialTokensMapJson);
        if (File.Exists(mapPath))
        {
            files.Add(SpecialTokensMapJson);
            using var document = ReadObject(mapPath);
            (options, bool mask) = ReadSpecialTokens(document.RootElement, mapPath, options);
            maskConfigured |= mask;
        }

        // Hugging Face's default mask token is only a default: a vocabulary without it simply has no mask token.
        if (!maskConfigured && options.MaskToken is not null && !vocabulary.TryGetId(options.MaskToken, out _))
            options = options with { MaskToken = null };

        string source = $"{modelDirectory} ({string.Join(", ", files)})";
        return new BertTokenizer(vocabulary, options, source);
    }

    private static (Vocabulary, BertTokenizerOptions) ReadTokenizerJson(JsonElement root, string path, BertTokenizerOptions options)
    {
        var model = RequireObject(root, "model", path);
        string type = GetString(model, "type", "model.type", path)
            ?? throw new ModelFormatException($"{path}: model.type is missing; expected \"WordPiece\"");
        if (type != "WordPiece")
            throw new ModelFormatException($"{path}: model.type is \"{type}\"; only WordPiece tokenizers (BERT family) are supported");

        var vocabElement = RequireObject(model, "vocab", path);
        var byId = new SortedDictionary<int, string>();
        foreach (var entry in vocabElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw new ModelFormatException($"{path}: model.vocab[\"{entry.Name}\"] is {Describe(entry.Value)}; expected a non-negative integer id");
            if (!byId.TryAdd(id, entry.Name))
                throw new ModelFormatException($"{path}: model.vocab gives id {id} to both \"{byId[id]}\" and \"{entry.Name}\"; expected distinct ids");
        }
        if (byId.Count == 0)
            throw new ModelFormatException($"{path}: model.vocab is empty; expected token → id pairs");
        if (byId.Keys.Last() != byId.Count - 1)
            throw new ModelFormatException($"{path}: model.vocab ids are not 0..{byId.Count - 1} (largest is {byId.Keys.Last()}); expected dense ids");
        var tokens = byId.Values.ToList();

        options = options with
        {
            UnkToken = GetString(model, "unk_token", "model.unk_token", path) ?? options.UnkToken,
            ContinuingSubwordPrefix = GetString(model, "continuing_subword_prefix", "model.continuing_subword_prefix", path)
                ?? options.ContinuingSubwordPrefix,
            MaxInputCharsPerWord = GetInt(model, "max_input_chars_per_word", "model.max_input_chars_per_word", path)
                ?? options.MaxInputCharsPerWord,
        };

        var normalizer = RequireObject(root, "normalizer", path);
        string? normalizerType = GetString(normalizer, "type", "normalizer.type", path);
        if (normalizerType != "BertNormalizer")
            throw new ModelFormatException($"{path}: normalizer.type is \"{normalizerType}\"; only BertNormalizer is supported");
        options = options with
        {
            CleanText = GetBool(normalizer, "clean_text", "normalizer.clean_text", path) ?? options.CleanText,
            TokenizeChineseChars = GetBool(normalizer, "handle_chinese_chars", "normalizer.handle_chinese_chars", path)
                ?? options.TokenizeChineseChars,
            DoLowerCase = GetBool(normalizer, "lowercase", "normalizer.lowercase", path) ?? options.DoLowerCase,
            StripAccents = GetStripAccents(normalizer, "normalizer.strip_accents", path, options.StripAccents),
        };

        var preTokenizer = RequireObject(root, "pre_tokenizer", path);
        string? preTokenizerType = GetString(preTokenizer, "type", "pre_tokenizer.type", path);
        if (preTokenizerType != "BertPreTokenizer")
            throw new ModelFormatException($"{path}: pre_tokenizer.type is \"{preTokenizerType}\"; only BertPreTokenizer is supported");

        options = ReadPostProcessor(root, path, options);
        var added = ReadAddedTokens(root, "added_tokens", path);
        return ApplyAddedTokens(tokens, added, path, options);
    }

    private static BertTokenizerOptions ReadPostProcessor(JsonElement root, string path, BertTokenizerOptions options)
    {
        if (!IO.StrictJson.TryGet(root, "post_processor", out var processor) || processor.ValueKind == JsonValueKind.Null)
            return options;
        if (processor.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException($"{path}: post_processor is {Describe(processor)}; expected an object");
        string? type = GetString(processor, "type", "post_processor.type", path);
        const string expected = "expected the single-sequence template [CLS] $A [SEP] with type_id 0";
        switch (type)
        {
            case "BertProcessing":
                return options with
                {
                    ClsToken = ReadPair(processor, "cls", path),
                    SepToken = ReadPair(processor, "sep", path),
                };
            case "TemplateProcessing":
            {
                if (!IO.StrictJson.TryGet(processor, "single", out var single) || single.ValueKind != JsonValueKind.Array
                    || single.GetArrayLength() != 3)
                    throw new ModelFormatException($"{path}: post_processor.single is not a 3-part template; {expected}");
                var parts = single.EnumerateArray().ToArray();
                string cls = TemplateSpecial(parts[0], processor, path, expected);
                if (!IO.StrictJson.TryGet(parts[1], "Sequence", out var sequence) || GetString(sequence, "id", "Sequence.id", path) != "A"
                    || GetInt(sequence, "type_id", "Sequence.type_id", path) is not (null or 0))
                    throw new ModelFormatException($"{path}: post_processor.single[1] is not $A with type_id 0; {expected}");
                string sep = TemplateSpecial(parts[2], processor, path, expected);
                return options with { ClsToken = cls, SepToken = sep };
            }
            default:
                throw new ModelFormatException($"{path}: post_processor.type is \"{type}\"; only TemplateProcessing and BertProcessing ([CLS] $A [SEP]) are supported");
        }
    }

    private static string TemplateSpecial(JsonElement part, JsonElement processor, string path, string expected)
    {
        if (part.ValueKind != JsonValueKind.Object || !IO.StrictJson.TryGet(part, "SpecialToken", out var special)
            || GetString(special, "id", "SpecialToken.id", path) is not { } key
            || GetInt(special, "type_id", "SpecialToken.type_id", path) is not (null or 0))
            throw new ModelFormatException($"{path}: post_processor.single has {part.GetRawText()} where a special token was expected; {expected}");
        // The template names an entry of special_tokens, whose "tokens" are what is actually inserted.
        if (IO.StrictJson.TryGet(processor, "special_tokens", out var map) && map.ValueKind == JsonValueKind.Object
            && IO.StrictJson.TryGet(map, key, out var entry) && entry.ValueKind == JsonValueKind.Object
            && IO.StrictJson.TryGet(entry, "tokens", out var tokens) && tokens.ValueKind == JsonValueKind.Array)
        {
            if (tokens.GetArrayLength() != 1 || tokens[0].ValueKind != JsonValueKind.String)
                throw new ModelFormatException($"{path}: post_processor.special_tokens[\"{key}\"].tokens is {tokens.GetRawText()}; expected exactly one token");
            return tokens[0].GetString()!;
        }
        return key;
    }

    private static string ReadPair(JsonElement processor, string name, string path)
    {
        if (!IO.StrictJson.TryGet(processor, name, out var pair) || pair.ValueKind != JsonValueKind.Array || pair.GetArrayLength() != 2
            || pair[0].ValueKind != JsonValueKind.String)
            throw new ModelFormatException($"{path}: post_processor.{name} is missing or malformed; expected [\"token\", id]");
        return pair[0].GetString()!;
    }

    private static (Vocabulary, BertTokenizerOptions, bool MaskConfigured) ReadTokenizerConfig(
        JsonElement root, string path, Vocabulary vocabulary, BertTokenizerOptions options, IWordSegmenter? jieba)
    {
        if (GetBool(root, "do_basic_tokenize", "do_basic_tokenize", path) == false)
            throw new ModelFormatException($"{path}: do_basic_tokenize is false; only the standard BERT pipeline (do_basic_tokenize true) is supported");
        options = options with
        {
            DoLowerCase = GetBool(root, "do_lower_case", "do_lower_case", path) ?? options.DoLowerCase,
            StripAccents = GetStripAccents(root, "strip_accents", path, options.StripAccents),
            TokenizeChineseChars = GetBool(root, "tokenize_chinese_chars", "tokenize_chinese_chars", path)
                ?? options.TokenizeChineseChars,
            NeverSplit = GetStringList(root, "never_split", path) ?? options.NeverSplit,
            ModelMaxLength = ReadModelMaxLength(root, path),
        };
        options = options with { WordSegmenter = ReadWordSegmenter(root, path, jieba) };
        (options, bool mask) = ReadSpecialTokens(root, path, options);

        var added = ReadAddedTokensDecoder(root, path);
        if (added.Count == 0) return (vocabulary, options, mask);
        var tokens = Enumerable.Range(0, vocabulary.Count).Select(i => vocabulary[i]).ToList();
        (vocabulary, options) = ApplyAddedTokens(tokens, added, path, options);
        return (vocabulary, options, mask);
    }

    /// <summary>
    /// <c>tokenizer_class</c> RoFormerTokenizer(Fast) segments with jieba (HMM off) before WordPiece: the registered
    /// <see cref="WordSegmenters.Jieba"/> (<paramref name="jieba"/>), and without one the checkpoint is refused rather than tokenized character by
    /// character. Any other class (BertTokenizer, absent, ...) means no segmentation.
    /// </summary>
    private static IWordSegmenter? ReadWordSegmenter(JsonElement root, string path, IWordSegmenter? jieba)
    {
        string? tokenizerClass = GetString(root, "tokenizer_class", "tokenizer_class", path);
        if (tokenizerClass is not ("RoFormerTokenizer" or "RoFormerTokenizerFast")) return null;
        return jieba ?? throw new ModelFormatException(
            $"{path}: tokenizer_class {tokenizerClass} cuts Chinese text into jieba words before WordPiece, and no jieba " +
            "segmenter is registered in this process; use the semblance command, or reference Semblance.Jieba and call " +
            "JiebaWordSegmenter.Register() (tokenizing character by character would give other ids than the model was trained on)");
    }

    /// <summary>Special-token names, from tokenizer_config.json or special_tokens_map.json (same keys).</summary>
    private static (BertTokenizerOptions, bool MaskConfigured) ReadSpecialTokens(JsonElement root, string path, BertTokenizerOptions options)
    {
        bool maskConfigured = IO.StrictJson.TryGet(root, "mask_token", out _);
        var additional = GetTokenList(root, "additional_special_tokens", path);
        options = options with
        {
            UnkToken = GetToken(root, "unk_token", path) ?? options.UnkToken,
            SepToken = GetToken(root, "sep_token", path) ?? options.SepToken,
            PadToken = GetToken(root, "pad_token", path) ?? options.PadToken,
            ClsToken = GetToken(root, "cls_token", path) ?? options.ClsToken,
            MaskToken = maskConfigured ? GetToken(root, "mask_token", path) : options.MaskToken,
            AdditionalSpecialTokens = additional is null
                ? options.AdditionalSpecialTokens
                : options.AdditionalSpecialTokens.Concat(additional).Distinct(StringComparer.Ordinal).ToArray(),
        };
        return (options, maskConfigured);
    }

    /// <summary>
    /// <c>model_max_length</c>; Hugging Face writes 1e30 (as a 31-digit integer) for "no limit", so anything beyond
    /// int range is treated as unknown.
    /// </summary>
    private static int? ReadModelMaxLength(JsonElement root, string path)
    {
        if (!IO.StrictJson.TryGet(root, "model_max_length", out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double length) || length != Math.Floor(length) || length < 1)
            throw new ModelFormatException($"{path}: model_max_length is {Describe(value)}; expected a positive integer");
        return length > int.MaxValue ? null : (int)length;
    }

    private static List<(int Id, string Content)> ReadAddedTokens(JsonElement root, string name, string path)
    {
        var result = new List<(int, string)>();
        if (!IO.StrictJson.TryGet(root, name, out var array) || array.ValueKind == JsonValueKind.Null) return result;
        if (array.ValueKind != JsonValueKind.Array)
            throw new ModelFormatException($"{path}: {name} is {Describe(array)}; expected an array of added tokens");
        int index = 0;
        foreach (var item in array.EnumerateArray())
        {
            string field = $"{name}[{index++}]";
            if (item.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException($"{path}: {field} is {Describe(item)}; expected {{\"id\", \"content\", ...}}");
            int id = GetInt(item, "id", field + ".id", path)
                ?? throw new ModelFormatException($"{path}: {field}.id is missing; expected an integer id");
            string content = GetString(item, "content", field + ".content", path)
                ?? throw new ModelFormatException($"{path}: {field}.content is missing; expected the token text");
            result.Add((id, content));
        }
        return result;
    }

    /// <summary>Newer tokenizer_config.json files list added tokens as <c>added_tokens_decoder: {"id": {"content": ...}}</c>.</summary>
    private static List<(int Id, string Content)> ReadAddedTokensDecoder(JsonElement root, string path)
    {
        var result = new List<(int, string)>();
        if (!IO.StrictJson.TryGet(root, "added_tokens_decoder", out var map) || map.ValueKind == JsonValueKind.Null) return result;
        if (map.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException($"{path}: added_tokens_decoder is {Describe(map)}; expected an object of id → token");
        foreach (var entry in map.EnumerateObject())
        {
            string field = $"added_tokens_decoder[\"{entry.Name}\"]";
            if (!int.TryParse(entry.Name, out int id) || id < 0 || entry.Value.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException($"{path}: {field} is malformed; expected a non-negative integer key and a token object");
            string content = GetString(entry.Value, "content", field + ".content", path)
                ?? throw new ModelFormatException($"{path}: {field}.content is missing; expected the token text");
            result.Add((id, content));
        }
        return result;
    }

    /// <summary>
    /// Added tokens become special (never split) tokens. One already in the vocabulary must keep its id; new ones must
    /// continue the id sequence right after the vocabulary, where the model's embedding rows for them are.
    /// </summary>
    private static (Vocabulary, BertTokenizerOptions) ApplyAddedTokens(
        List<string> tokens, List<(int Id, string Content)> added, string path, BertTokenizerOptions options)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++) index[tokens[i]] = i;
        foreach (var (id, content) in added.OrderBy(a => a.Id))
        {
            if (index.TryGetValue(content, out int existing))
            {
                if (existing != id)
                    throw new ModelFormatException($"{path}: added token \"{content}\" has id {id} but the vocabulary gives it {existing}; expected the same id");
                continue;
            }
            if (id != tokens.Count)
                throw new ModelFormatException($"{path}: added token \"{content}\" has id {id}; expected a vocabulary token or the next free id {tokens.Count}");
            tokens.Add(content);
            index[content] = id;
        }
        var contents = added.Select(a => a.Content).Where(c => c.Length > 0);
        options = options with
        {
            AdditionalSpecialTokens = options.AdditionalSpecialTokens.Concat(contents).Distinct(StringComparer.Ordinal).ToArray(),
        };
        return (new Vocabulary(tokens), options);
    }

    private static JsonDocument ReadObject(string path)
    {
        var document = IO.StrictJson.ReadFile(path, static m => new ModelFormatException(m), JsonOptions);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            var kind = Describe(document.RootElement);
            document.Dispose();
            throw new ModelFormatException($"{path}: the top level is {kind}; expected a JSON object");
        }
        return document;
    }

    private static JsonElement RequireObject(JsonElement parent, string name, string path)
    {
        if (!IO.StrictJson.TryGet(parent, name, out var value))
            throw new ModelFormatException($"{path}: \"{name}\" is missing; expected an object");
        if (value.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException($"{path}: \"{name}\" is {Describe(value)}; expected an object");
        return value;
    }

    private static string? GetString(JsonElement parent, string name, string field, string path)
    {
        if (!IO.StrictJson.TryGet(parent, name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.String)
            throw new ModelFormatException($"{path}: {field} is {Describe(value)}; expected a string");
        return value.GetString();
    }

    private static bool? GetBool(JsonElement parent, string name, string field, string path) =>
        GetNullableBool(parent, name, field, path, out _);

    private static bool? GetNullableBool(JsonElement parent, string name, string field, string path, out bool present)
    {
        present = IO.StrictJson.TryGet(parent, name, out var value);
        if (!present || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            throw new ModelFormatException($"{path}: {field} is {Describe(value)}; expected true, false or null");
        return value.GetBoolean();
    }

    /// <summary><c>strip_accents</c> where an explicit null ("follow lowercasing") differs from an absent key.</summary>
    private static bool? GetStripAccents(JsonElement parent, string field, string path, bool? fallback)
    {
        bool? value = GetNullableBool(parent, "strip_accents", field, path, out bool present);
        return present ? value : fallback;
    }

    private static int? GetInt(JsonElement parent, string name, string field, string path)
    {
        if (!IO.StrictJson.TryGet(parent, name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int result))
            throw new ModelFormatException($"{path}: {field} is {Describe(value)}; expected an integer");
        return result;
    }

    private static IReadOnlyList<string>? GetStringList(JsonElement parent, string name, string path)
    {
        if (!IO.StrictJson.TryGet(parent, name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String))
            throw new ModelFormatException($"{path}: {name} is {Describe(value)}; expected an array of strings or null");
        return value.EnumerateArray().Select(v => v.GetString()!).ToArray();
    }

    /// <summary>A special token written as a string or as a serialized AddedToken <c>{"content": ...}</c>.</summary>
    private static string? GetToken(JsonElement parent, string name, string path)
    {
        if (!IO.StrictJson.TryGet(parent, name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return TokenText(value, name, path);
    }

    private static IReadOnlyList<string>? GetTokenList(JsonElement parent, string name, string path)
    {
        if (!IO.StrictJson.TryGet(parent, name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Array)
            throw new ModelFormatException($"{path}: {name} is {Describe(value)}; expected an array of tokens");
        return value.EnumerateArray().Select((v, i) => TokenText(v, $"{name}[{i}]", path)).ToArray();
    }

    private static string TokenText(JsonElement value, string field, string path)
    {
        if (value.ValueKind == JsonValueKind.String) return value.GetString()!;
        if (value.ValueKind == JsonValueKind.Object && IO.StrictJson.TryGet(value, "content", out var content)
            && content.ValueKind == JsonValueKind.String)
            return content.GetString()!;
        throw new ModelFormatException($"{path}: {field} is {Describe(value)}; expected a token string or {{\"content\": \"...\"}}");
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string {SemblanceException.Excerpt(value.GetString())}",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        JsonValueKind.Null => "null",
        _ => value.ValueKind.ToString(),
    };
}
