// BERT's BasicTokenizer: cleanup, CJK spacing, NFC, whitespace split, accent stripping, punctuation split.
using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Semblance.Text;

/// <summary>
/// Turns text that contains no special tokens (and is already lowercased when lowercasing is on) into words and
/// hands every word to WordPiece, in the order of Hugging Face v4.31's slow <c>BasicTokenizer.tokenize</c>.
/// The per-word <c>lower()</c> of the reference is omitted: after per-character lowercasing and NFC every character
/// is its own lowercase (checked against Python's unicodedata for every code point), so it cannot change anything.
/// </summary>
internal sealed class BasicTokenizer
{
    private readonly bool _cleanText;
    private readonly bool _splitCjk;
    private readonly bool _stripAccents;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _keepWhole;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _bypassWordPiece;
    private readonly bool _hasKeepWhole;
    private readonly bool _hasBypass;
    private readonly Vocabulary _vocabulary;
    private readonly int _unkId;
    private readonly WordPieceTokenizer _wordPiece;

    /// <param name="keepWhole">Words neither accent-stripped nor split on punctuation: never_split plus the special tokens.</param>
    /// <param name="bypassWordPiece">Pieces emitted as they are instead of going through WordPiece: never_split only.</param>
    public BasicTokenizer(bool cleanText, bool splitCjk, bool stripAccents, IEnumerable<string> keepWhole,
        IEnumerable<string> bypassWordPiece, Vocabulary vocabulary, int unkId, WordPieceTokenizer wordPiece)
    {
        _cleanText = cleanText;
        _splitCjk = splitCjk;
        _stripAccents = stripAccents;
        var keep = new HashSet<string>(keepWhole, StringComparer.Ordinal);
        var bypass = new HashSet<string>(bypassWordPiece, StringComparer.Ordinal);
        _hasKeepWhole = keep.Count > 0;
        _hasBypass = bypass.Count > 0;
        _keepWhole = keep.GetAlternateLookup<ReadOnlySpan<char>>();
        _bypassWordPiece = bypass.GetAlternateLookup<ReadOnlySpan<char>>();
        _vocabulary = vocabulary;
        _unkId = unkId;
        _wordPiece = wordPiece;
    }

    public void Tokenize(ReadOnlySpan<char> text, TokenOutput output)
    {
        if (text.IsEmpty || output.IsFull) return;
        // Cleanup at most triples the length: " " + ideograph + " ".
        char[] cleaned = ArrayPool<char>.Shared.Rent(text.Length * 3);
        char[]? composed = null;
        char[]? scratch = null;
        try
        {
            ReadOnlySpan<char> words = cleaned.AsSpan(0, Clean(text, cleaned));
            // Strings below U+0300 are always NFC; ICU is only asked about the rest.
            if (words.ContainsAnyInRange('\u0300', '\uFFFF') && !words.IsNormalized(NormalizationForm.FormC))
            {
                int length = Normalize(words, NormalizationForm.FormC, ref composed);
                words = composed.AsSpan(0, length);
            }

            int i = 0;
            while (i < words.Length && !output.IsFull)
            {
                while (i < words.Length && Unicode14.IsPythonSpace(words[i])) i++;
                int start = i;
                while (i < words.Length && !Unicode14.IsPythonSpace(words[i])) i++;
                if (i > start) TokenizeWord(words[start..i], output, ref scratch);
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(cleaned);
            if (composed is not null) ArrayPool<char>.Shared.Return(composed);
            if (scratch is not null) ArrayPool<char>.Shared.Return(scratch);
        }
    }

    /// <summary>
    /// Drops U+0000, U+FFFD and control/format/unassigned characters, maps whitespace to a space and puts spaces
    /// around CJK ideographs. Returns the number of chars written.
    /// </summary>
    private int Clean(ReadOnlySpan<char> text, Span<char> destination)
    {
        int n = 0;
        for (int i = 0; i < text.Length; i++)
        {
            int cp = text[i];
            bool pair = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);
            if (pair) cp = char.ConvertToUtf32(text[i], text[i + 1]);

            if (_cleanText)
            {
                if (cp is 0 or 0xFFFD || Unicode14.IsControl(cp))
                {
                    if (pair) i++;
                    continue;
                }
                if (Unicode14.IsWhitespace(cp))
                {
                    destination[n++] = ' ';
                    continue;
                }
            }
            bool cjk = _splitCjk && Unicode14.IsCjkIdeograph(cp);
            if (cjk) destination[n++] = ' ';
            destination[n++] = text[i];
            if (pair) destination[n++] = text[++i];
            if (cjk) destination[n++] = ' ';
        }
        return n;
    }

    private void TokenizeWord(ReadOnlySpan<char> word, TokenOutput output, ref char[]? scratch)
    {
        if (_hasKeepWhole && _keepWhole.Contains(word))
        {
            Emit(word, output);
            return;
        }
        if (_stripAccents && !IsNfdStableWithoutMarks(word))
        {
            int length = StripAccents(word, ref scratch);
            word = scratch.AsSpan(0, length);
            if (word.IsEmpty) return;
            if (_hasKeepWhole && _keepWhole.Contains(word))
            {
                Emit(word, output);
                return;
            }
        }

        int start = 0;
        int i = 0;
        while (i < word.Length)
        {
            int width = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            int cp = width == 2 ? char.ConvertToUtf32(word[i], word[i + 1]) : word[i];
            if (Unicode14.IsPunctuation(cp))
            {
                if (i > start) Emit(word[start..i], output);
                Emit(word.Slice(i, width), output);
                start = i + width;
            }
            i += width;
        }
        if (start < word.Length) Emit(word[start..], output);
    }

    private void Emit(ReadOnlySpan<char> piece, TokenOutput output)
    {
        if (_hasBypass && _bypassWordPiece.TryGetValue(piece, out var whole))
        {
            output.Add(_vocabulary.TryGetId(whole, out int id) ? id : _unkId, whole);
            return;
        }
        _wordPiece.Tokenize(piece, output);
    }

    /// <summary>NFD, then every Mn (non-spacing mark, Unicode 14.0) removed; the result is the start of <paramref name="scratch"/>.</summary>
    private static int StripAccents(ReadOnlySpan<char> word, [NotNull] ref char[]? scratch)
    {
        int length = Normalize(word, NormalizationForm.FormD, ref scratch);
        var buffer = scratch.AsSpan(0, length);
        int n = 0;
        for (int i = 0; i < buffer.Length; i++)
        {
            bool pair = char.IsHighSurrogate(buffer[i]) && i + 1 < buffer.Length && char.IsLowSurrogate(buffer[i + 1]);
            int cp = pair ? char.ConvertToUtf32(buffer[i], buffer[i + 1]) : buffer[i];
            if (Unicode14.IsNonSpacingMark(cp))
            {
                if (pair) i++;
                continue;
            }
            buffer[n++] = buffer[i];
            if (pair) buffer[n++] = buffer[++i];
        }
        return n;
    }

    /// <summary>
    /// Normalizes into <paramref name="buffer"/> (rented, or replaced by a larger one) and returns the length written.
    /// </summary>
    private static int Normalize(ReadOnlySpan<char> text, NormalizationForm form, [NotNull] ref char[]? buffer)
    {
        int guess = text.Length * 3 + 16;
        if (buffer is null || buffer.Length < guess)
        {
            if (buffer is not null) ArrayPool<char>.Shared.Return(buffer);
            buffer = ArrayPool<char>.Shared.Rent(guess);
        }
        if (text.TryNormalize(buffer, out int written, form)) return written;
        int needed = text.GetNormalizedLength(form);
        ArrayPool<char>.Shared.Return(buffer);
        buffer = ArrayPool<char>.Shared.Rent(needed);
        if (!text.TryNormalize(buffer, out written, form))
            throw new InvalidOperationException($"{form} normalization needed {needed} chars but did not fit");
        return written;
    }

    /// <summary>
    /// True when every char lies in a block that has no canonical decompositions and no Mn marks (ASCII and Latin-1
    /// below U+00C0, general punctuation from U+2002, CJK symbols up to U+3029, CJK Extension A and Unified
    /// Ideographs, half/full-width forms), so accent stripping would return the word unchanged. Saves an ICU call
    /// per Chinese character.
    /// </summary>
    internal static bool IsNfdStableWithoutMarks(ReadOnlySpan<char> word)
    {
        foreach (char c in word)
        {
            bool stable = c < '\u00C0' || c is >= '\u2002' and <= '\u206F' or >= '\u3000' and <= '\u3029'
                or >= '\u3400' and <= '\u4DBF' or >= '\u4E00' and <= '\u9FFF' or >= '\uFF00' and <= '\uFFEF';
            if (!stable) return false;
        }
        return true;
    }
}
