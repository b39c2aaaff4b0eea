// The tokenizer contract the encoders consume: text in, ids with special tokens out.
namespace Semblance.Text;

/// <summary>One encoded sequence: <c>[CLS] tokens [SEP]</c> with ids and token type ids of equal length.</summary>
public sealed record TokenizedText(int[] Ids, string[] Tokens, int[] TypeIds)
{
    public int Length => Ids.Length;
}

public interface ITokenizer
{
    int VocabSize { get; }

    int PadId { get; }

    /// <summary>Word pieces of <paramref name="text"/>, without special tokens and without truncation.</summary>
    IReadOnlyList<string> Tokenize(string text);

    /// <summary>
    /// <c>[CLS] pieces [SEP]</c>, right-truncated so the whole sequence is at most <paramref name="maxLength"/>
    /// tokens (special tokens included); <paramref name="maxLength"/> ≤ 0 means no truncation.
    /// </summary>
    TokenizedText Encode(string text, int maxLength);
}
