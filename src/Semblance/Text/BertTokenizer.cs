// BERT WordPiece tokenizer with the exact semantics of Hugging Face transformers v4.31's slow BertTokenizer.
using System.Buffers;
using System.Text;

namespace Semblance.Text;

/// <summary>
/// BasicTokenizer + WordPiece, matching transformers v4.31's slow (Python) <c>BertTokenizer</c> id for id, including
/// its special-token handling and its Unicode 14.0 character tables. The order of operations:
/// <list type="number">
/// <item>special-token text (<c>[CLS]</c>, <c>[MASK]</c>, ...) is cut out wherever it occurs, even inside a word,
/// and kept verbatim;</item>
/// <item>the rest is lowercased character by character (when <see cref="BertTokenizerOptions.DoLowerCase"/>);</item>
/// <item>control, format and unassigned characters are dropped, whitespace becomes a space, CJK ideographs are
/// spaced out;</item>
/// <item>NFC, split on whitespace;</item>
/// <item>per word: NFD with non-spacing marks removed (accent stripping), split on punctuation, WordPiece.</item>
/// </list>
/// Immutable after construction and safe for concurrent use.
/// </summary>
public sealed class BertTokenizer : ITokenizer
{
    private static readonly Lazy<bool> NormalizationWorks = new(() =>
        "e\u0301".Normalize(NormalizationForm.FormC) == "\u00E9" && "\u00E9".Normalize(NormalizationForm.FormD) == "e\u0301");

    private readonly SpecialTokenMatcher _specials;
    private readonly BasicTokenizer _basic;

    /// <summary>A tokenizer over <paramref name="vocabulary"/>, with Hugging Face's BertTokenizer defaults unless overridden.</summary>
    public BertTokenizer(Vocabulary vocabulary, BertTokenizerOptions? options = null)
        : this(vocabulary, options ?? new BertTokenizerOptions(), "the vocabulary")
    {
    }

    /// <param name="source">Names the files the vocabulary and options came from, for error messages.</param>
    internal BertTokenizer(Vocabulary vocabulary, BertTokenizerOptions options, string source)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxInputCharsPerWord < 1)
            throw new ModelFormatException($"{source}: max_input_chars_per_word is {options.MaxInputCharsPerWord}; expected a positive number");
        if (options.ModelMaxLength is < 1)
            throw new ModelFormatException($"{source}: model_max_length is {options.ModelMaxLength}; expected a positive number");
        if (!NormalizationWorks.Value)
            throw new SemblanceException("Unicode normalization (NFC/NFD) is not available: the process runs in " +
                "globalization-invariant mode or without ICU; install libicu and leave InvariantGlobalization off, " +
                "the BERT tokenizer needs it to strip accents and compose characters");

        Vocabulary = vocabulary;
        Options = options;
        UnkId = RequireId(vocabulary, options.UnkToken, "unk_token", source);
        SepId = RequireId(vocabulary, options.SepToken, "sep_token", source);
        PadId = RequireId(vocabulary, options.PadToken, "pad_token", source);
        ClsId = RequireId(vocabulary, options.ClsToken, "cls_token", source);
        MaskId = options.MaskToken is null ? null : RequireId(vocabulary, options.MaskToken, "mask_token", source);

        var specials = new List<(string, int)>();
        void AddSpecial(string token, int id)
        {
            if (!specials.Exists(s => s.Item1 == token)) specials.Add((token, id));
        }
        AddSpecial(options.UnkToken, UnkId);
        AddSpecial(options.SepToken, SepId);
        AddSpecial(options.PadToken, PadId);
        AddSpecial(options.ClsToken, ClsId);
        if (options.MaskToken is not null) AddSpecial(options.MaskToken, MaskId!.Value);
        foreach (var token in options.AdditionalSpecialTokens)
            AddSpecial(token, RequireId(vocabulary, token, "additional special token", source));
        _specials = new SpecialTokenMatcher(specials);

        var wordPiece = new WordPieceTokenizer(vocabulary, UnkId, options.ContinuingSubwordPrefix, options.MaxInputCharsPerWord);
        var neverSplit = options.NeverSplit.Where(t => !string.IsNullOrEmpty(t)).ToArray();
        _basic = new BasicTokenizer(options.CleanText, options.TokenizeChineseChars, options.StripsAccents,
            neverSplit.Concat(specials.Select(s => s.Item1)), neverSplit, vocabulary, UnkId, wordPiece);
    }

    /// <summary>
    /// Loads the tokenizer of a Hugging Face model directory: <c>tokenizer.json</c> when present (WordPiece model only),
    /// otherwise <c>vocab.txt</c>; <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c> refine either.
    /// </summary>
    /// <exception cref="ModelFormatException">No vocabulary, or a file that is malformed or not a WordPiece tokenizer.</exception>
    public static BertTokenizer Load(string modelDirectory) => BertTokenizerLoader.Load(modelDirectory);

    /// <summary>A tokenizer over a <c>vocab.txt</c> file with the given options.</summary>
    public static BertTokenizer FromVocabFile(string vocabPath, BertTokenizerOptions? options = null)
    {
        if (!File.Exists(vocabPath))
            throw new ModelFormatException($"{vocabPath}: vocabulary file not found; expected a vocab.txt with one token per line");
        return new BertTokenizer(Vocabulary.ReadVocabTxt(vocabPath), options ?? new BertTokenizerOptions(), vocabPath);
    }

    public BertTokenizerOptions Options { get; }

    public Vocabulary Vocabulary { get; }

    public int VocabSize => Vocabulary.Count;

    public int PadId { get; }

    public int UnkId { get; }

    public int ClsId { get; }

    public int SepId { get; }

    public int? MaskId { get; }

    public bool DoLowerCase => Options.DoLowerCase;

    /// <summary>The model's maximum sequence length from tokenizer_config.json, or null when it does not say.</summary>
    public int? ModelMaxLength => Options.ModelMaxLength;

    public IReadOnlyList<string> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new TokenOutput();
        TokenizeInto(text, output);
        return output.Tokens;
    }

    public TokenizedText Encode(string text, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (maxLength == 1)
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "must be at least 2 ([CLS] and [SEP]), or ≤ 0 for no limit");
        var output = new TokenOutput(maxLength > 0 ? maxLength - 2 : int.MaxValue);
        TokenizeInto(text, output);
        int pieces = Math.Min(output.Count, output.Limit);

        var ids = new int[pieces + 2];
        var tokens = new string[pieces + 2];
        ids[0] = ClsId;
        tokens[0] = Options.ClsToken;
        output.Ids.CopyTo(0, ids, 1, pieces);
        output.Tokens.CopyTo(0, tokens, 1, pieces);
        ids[^1] = SepId;
        tokens[^1] = Options.SepToken;
        return new TokenizedText(ids, tokens, new int[pieces + 2]);
    }

    /// <summary>
    /// A sentence pair as Hugging Face's slow tokenizer encodes <c>tokenizer(text, text_pair, truncation="longest_first",
    /// max_length=maxLength)</c>: <c>[CLS] A [SEP] B [SEP]</c>, token types 0 through the first [SEP] and 1 after it. When
    /// the pair is too long, tokens are removed one at a time from the end of the currently longer segment (from B on a
    /// tie). <paramref name="maxLength"/> ≤ 0 means no truncation; otherwise it must leave room for the three specials.
    /// </summary>
    public TokenizedText EncodePair(string text, string textPair, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(textPair);
        if (maxLength is > 0 and < 3)
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "must be at least 3 ([CLS] and two [SEP]), or ≤ 0 for no limit");
        // Neither segment can keep more than maxLength − 3 pieces, and capping both there does not change what
        // longest-first truncation keeps, so tokenizing may stop early.
        int cap = maxLength > 0 ? maxLength - 3 : int.MaxValue;
        var a = new TokenOutput(cap);
        TokenizeInto(text, a);
        var b = new TokenOutput(cap);
        TokenizeInto(textPair, b);
        int la = Math.Min(a.Count, cap), lb = Math.Min(b.Count, cap);
        if (maxLength > 0)
            for (int excess = la + lb + 3 - maxLength; excess > 0; excess--)
            {
                if (la > lb) la--;
                else lb--;
            }
        int length = la + lb + 3;
        var ids = new int[length];
        var tokens = new string[length];
        var types = new int[length];
        ids[0] = ClsId;
        tokens[0] = Options.ClsToken;
        a.Ids.CopyTo(0, ids, 1, la);
        a.Tokens.CopyTo(0, tokens, 1, la);
        ids[la + 1] = SepId;
        tokens[la + 1] = Options.SepToken;
        b.Ids.CopyTo(0, ids, la + 2, lb);
        b.Tokens.CopyTo(0, tokens, la + 2, lb);
        ids[^1] = SepId;
        tokens[^1] = Options.SepToken;
        types.AsSpan(la + 2).Fill(1);
        return new TokenizedText(ids, tokens, types);
    }

    private void TokenizeInto(string text, TokenOutput output)
    {
        ReadOnlySpan<char> source = text;
        char[]? lowered = null;
        try
        {
            if (Options.DoLowerCase)
            {
                // Lowercasing happens before special tokens are split off (as in the reference), so a special
                // token that only appears after lowercasing is still found.
                lowered = ArrayPool<char>.Shared.Rent(text.Length * 2);
                source = lowered.AsSpan(0, LowerOutsideSpecials(text, lowered));
            }
            int position = 0;
            while (!output.IsFull && _specials.TryFind(source, position, out int index, out int which))
            {
                TokenizeSpan(source[position..index], output);
                if (output.IsFull) return;
                output.Add(_specials.Id(which), _specials.Token(which));
                position = index + _specials.Token(which).Length;
            }
            if (!output.IsFull) TokenizeSpan(source[position..], output);
        }
        finally
        {
            if (lowered is not null) ArrayPool<char>.Shared.Return(lowered);
        }
    }

    /// <summary>
    /// Text between special tokens: BasicTokenizer + WordPiece, or, with a <see cref="BertTokenizerOptions.WordSegmenter"/>,
    /// per segmented word the word's own token when the vocabulary has it, else BasicTokenizer + WordPiece of the word
    /// (Hugging Face's RoFormerTokenizer).
    /// </summary>
    private void TokenizeSpan(ReadOnlySpan<char> span, TokenOutput output)
    {
        var segmenter = Options.WordSegmenter;
        if (segmenter is null)
        {
            _basic.Tokenize(span, output);
            return;
        }
        if (span.IsEmpty) return;
        foreach (var word in segmenter.Segment(span.ToString()))
        {
            if (output.IsFull) return;
            if (word.Length > 0 && Vocabulary.TryGetId(word, out int id)) output.Add(id, word);
            else _basic.Tokenize(word, output);
        }
    }

    /// <summary>Python's per-character <c>str.lower()</c> of everything outside special-token text; returns chars written.</summary>
    private int LowerOutsideSpecials(ReadOnlySpan<char> text, Span<char> destination)
    {
        int n = 0;
        int position = 0;
        while (true)
        {
            bool found = _specials.TryFind(text, position, out int index, out int which);
            int end = found ? index : text.Length;
            for (int i = position; i < end; i++)
            {
                char c = text[i];
                if (c < 0x80)
                {
                    destination[n++] = c is >= 'A' and <= 'Z' ? (char)(c + 32) : c;
                    continue;
                }
                int cp = c;
                if (char.IsHighSurrogate(c) && i + 1 < end && char.IsLowSurrogate(text[i + 1]))
                    cp = char.ConvertToUtf32(c, text[++i]);
                int lower = Unicode14.ToLower(cp, out int second);
                if (lower < 0x10000) destination[n++] = (char)lower;
                else n += new Rune(lower).EncodeToUtf16(destination[n..]);
                if (second >= 0) destination[n++] = (char)second;
            }
            if (!found) return n;
            var token = _specials.Token(which);
            token.CopyTo(destination[n..]);
            n += token.Length;
            position = index + token.Length;
        }
    }

    private static int RequireId(Vocabulary vocabulary, string token, string field, string source)
    {
        if (string.IsNullOrEmpty(token))
            throw new ModelFormatException($"{source}: {field} is empty; expected a token of the vocabulary");
        if (!vocabulary.TryGetId(token, out int id))
            throw new ModelFormatException($"{source}: {field} '{token}' is not in the vocabulary; expected every special token to have an id");
        return id;
    }
}
