// Accumulates word pieces (id and token string) for one text, with an optional cap that stops tokenizing early.
namespace Semblance.Text;

internal sealed class TokenOutput
{
    public readonly List<int> Ids = new();
    public readonly List<string> Tokens = new();

    /// <param name="limit">Pieces needed by the caller; tokenizing stops at the first word boundary past it.</param>
    public TokenOutput(int limit = int.MaxValue) => Limit = limit;

    public int Limit { get; }

    public int Count => Ids.Count;

    /// <summary>True once enough pieces exist; checked between words, because a word can still turn into [UNK].</summary>
    public bool IsFull => Ids.Count >= Limit;

    public void Add(int id, string token)
    {
        Ids.Add(id);
        Tokens.Add(token);
    }

    public void TruncateTo(int count)
    {
        Ids.RemoveRange(count, Ids.Count - count);
        Tokens.RemoveRange(count, Tokens.Count - count);
    }
}
