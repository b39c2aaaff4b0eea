// Finds literal special-token text ([CLS], [MASK], ...) anywhere in a string, leftmost first, longest at a position.
using System.Buffers;

namespace Semblance.Text;

internal sealed class SpecialTokenMatcher
{
    private readonly string[] _tokens;
    private readonly int[] _ids;
    private readonly SearchValues<char> _firstChars;

    /// <param name="tokens">Distinct, non-empty token strings with their ids.</param>
    public SpecialTokenMatcher(IReadOnlyList<(string Token, int Id)> tokens)
    {
        var ordered = tokens.OrderByDescending(t => t.Token.Length).ThenBy(t => t.Token, StringComparer.Ordinal).ToArray();
        _tokens = ordered.Select(t => t.Token).ToArray();
        _ids = ordered.Select(t => t.Id).ToArray();
        _firstChars = SearchValues.Create(_tokens.Select(t => t[0]).Distinct().ToArray());
    }

    public string Token(int which) => _tokens[which];

    public int Id(int which) => _ids[which];

    /// <summary>The first position at or after <paramref name="from"/> where a token starts; the longest wins there.</summary>
    public bool TryFind(ReadOnlySpan<char> text, int from, out int index, out int which)
    {
        index = -1;
        which = -1;
        if (_tokens.Length == 0) return false;
        int i = from;
        while (i < text.Length)
        {
            int hit = text[i..].IndexOfAny(_firstChars);
            if (hit < 0) return false;
            i += hit;
            var rest = text[i..];
            for (int t = 0; t < _tokens.Length; t++)
            {
                if (rest.StartsWith(_tokens[t], StringComparison.Ordinal))
                {
                    index = i;
                    which = t;
                    return true;
                }
            }
            i++;
        }
        return false;
    }
}
