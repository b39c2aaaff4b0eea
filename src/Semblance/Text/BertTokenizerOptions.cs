// Settings of a BERT WordPiece tokenizer, named after the fields of Hugging Face's tokenizer_config.json.
namespace Semblance.Text;

/// <summary>
/// Options of <see cref="BertTokenizer"/>; the defaults are those of Hugging Face's <c>BertTokenizer</c>
/// (bert-base-uncased). Each property notes the tokenizer_config.json / tokenizer.json field it comes from.
/// </summary>
public sealed record BertTokenizerOptions
{
    /// <summary><c>do_lower_case</c> / normalizer <c>lowercase</c>: lowercase everything except special-token text.</summary>
    public bool DoLowerCase { get; init; } = true;

    /// <summary><c>strip_accents</c>: null strips accents exactly when <see cref="DoLowerCase"/> is on.</summary>
    public bool? StripAccents { get; init; }

    /// <summary><c>tokenize_chinese_chars</c> / <c>handle_chinese_chars</c>: every CJK ideograph is its own word.</summary>
    public bool TokenizeChineseChars { get; init; } = true;

    /// <summary>
    /// tokenizer.json's <c>clean_text</c>: drop control characters and map whitespace to spaces. Hugging Face's slow
    /// tokenizer always does this; only a tokenizer.json can switch it off.
    /// </summary>
    public bool CleanText { get; init; } = true;

    /// <summary><c>never_split</c>: words kept whole (no accent stripping, no punctuation split, no WordPiece).</summary>
    public IReadOnlyList<string> NeverSplit { get; init; } = [];

    public string UnkToken { get; init; } = "[UNK]";

    public string SepToken { get; init; } = "[SEP]";

    public string PadToken { get; init; } = "[PAD]";

    public string ClsToken { get; init; } = "[CLS]";

    /// <summary>Null when the vocabulary has no mask token.</summary>
    public string? MaskToken { get; init; } = "[MASK]";

    /// <summary>
    /// <c>additional_special_tokens</c> and added tokens: like the five above, recognised literally anywhere in
    /// the text (even inside a word), never lowercased and never split.
    /// </summary>
    public IReadOnlyList<string> AdditionalSpecialTokens { get; init; } = [];

    /// <summary>WordPiece <c>continuing_subword_prefix</c>.</summary>
    public string ContinuingSubwordPrefix { get; init; } = "##";

    /// <summary>WordPiece <c>max_input_chars_per_word</c>, in code points; longer words become the unknown token.</summary>
    public int MaxInputCharsPerWord { get; init; } = 100;

    /// <summary><c>model_max_length</c>, or null when unknown (absent, or Hugging Face's "no limit" sentinel 1e30).</summary>
    public int? ModelMaxLength { get; init; }

    /// <summary>
    /// <c>tokenizer_class</c> RoFormerTokenizer: each span between special tokens (after lowercasing) is first cut
    /// into words by this segmenter (jieba, HMM off, for the released Chinese RoFormer models); a word that is a
    /// vocabulary token becomes that token, any other word goes through BasicTokenizer + WordPiece. Null: no
    /// segmentation (BertTokenizer).
    /// </summary>
    public IWordSegmenter? WordSegmenter { get; init; }

    /// <summary>Whether accents are stripped: <see cref="StripAccents"/>, or <see cref="DoLowerCase"/> when it is null.</summary>
    public bool StripsAccents => StripAccents ?? DoLowerCase;
}
