// WordPiece: greedy longest-match-first segmentation of one word into vocabulary pieces.
namespace Semblance.Text;

/// <summary>
/// Splits a word into the longest vocabulary prefix, then the longest <c>##</c>-prefixed continuation, and so on.
/// If some remainder has no match, or the word is longer than the limit (in code points), the whole word is [UNK].
/// </summary>
internal sealed class WordPieceTokenizer
{
    private const int StackLimit = 512;

    private readonly Vocabulary _vocabulary;
    private readonly string _prefix;
    private readonly int _maxCodePoints;
    private readonly int _unkId;

    public WordPieceTokenizer(Vocabulary vocabulary, int unkId, string continuingSubwordPrefix, int maxInputCharsPerWord)
    {
        _vocabulary = vocabulary;
        _unkId = unkId;
        _prefix = continuingSubwordPrefix;
        _maxCodePoints = maxInputCharsPerWord;
    }

    public void Tokenize(ReadOnlySpan<char> word, TokenOutput output)
    {
        if (word.IsEmpty) return;
        int codePoints = CountCodePoints(word);
        if (codePoints > _maxCodePoints)
        {
            output.Add(_unkId, _vocabulary[_unkId]);
            return;
        }

        int[]? rentedBounds = null;
        char[]? rentedChars = null;
        Span<int> bounds = codePoints + 1 <= StackLimit
            ? stackalloc int[codePoints + 1]
            : (rentedBounds = System.Buffers.ArrayPool<int>.Shared.Rent(codePoints + 1));
        int p = _prefix.Length;
        Span<char> buffer = p + word.Length <= StackLimit
            ? stackalloc char[p + word.Length]
            : (rentedChars = System.Buffers.ArrayPool<char>.Shared.Rent(p + word.Length));
        try
        {
            FillBounds(word, bounds);
            // The word sits at buffer[p..]; before each continuation piece the prefix is written just in front of
            // the piece's first char, over chars already consumed, so "##" + piece is one contiguous span.
            word.CopyTo(buffer[p..]);
            int first = output.Count;
            int maxLength = _vocabulary.MaxTokenLength;
            int start = 0;
            while (start < codePoints)
            {
                int startChar = bounds[start];
                int spanStart = start == 0 ? p : startChar;
                if (start > 0) _prefix.CopyTo(buffer[startChar..]);
                int id = -1;
                int end = codePoints;
                for (; end > start; end--)
                {
                    int length = p + bounds[end] - spanStart;
                    if (length <= maxLength && _vocabulary.TryGetId(buffer.Slice(spanStart, length), out id)) break;
                }
                if (end == start)
                {
                    output.TruncateTo(first);
                    output.Add(_unkId, _vocabulary[_unkId]);
                    return;
                }
                output.Add(id, _vocabulary[id]);
                start = end;
            }
        }
        finally
        {
            if (rentedBounds is not null) System.Buffers.ArrayPool<int>.Shared.Return(rentedBounds);
            if (rentedChars is not null) System.Buffers.ArrayPool<char>.Shared.Return(rentedChars);
        }
    }

    /// <summary>Code points as Python counts them: a surrogate pair is one, a lone surrogate is one.</summary>
    internal static int CountCodePoints(ReadOnlySpan<char> text)
    {
        int count = 0;
        for (int i = 0; i < text.Length; i++, count++)
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
        return count;
    }

    private static void FillBounds(ReadOnlySpan<char> text, Span<int> bounds)
    {
        int n = 0;
        for (int i = 0; i < text.Length; i++)
        {
            bounds[n++] = i;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
        }
        bounds[n] = text.Length;
    }
}
