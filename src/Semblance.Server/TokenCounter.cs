// Sequence lengths as the model will see them ([CLS] pieces [SEP], truncated to max length), computed on the request
// thread so batches can be sized by tokens, usage reported per request and over-long inputs refused before queueing.
using Semblance.Embeddings;
using Semblance.Text;

namespace Semblance.Server;

internal sealed class TokenCounter
{
    private readonly ITokenizer? _tokenizer;

    public TokenCounter(IEmbeddingBackend backend)
        : this(backend.Tokenizer, backend.MaxLength) { }

    public TokenCounter(ITokenizer? tokenizer, int maxLength)
    {
        _tokenizer = tokenizer;
        MaxLength = maxLength;
    }

    /// <summary>0 when the backend has no sequence limit.</summary>
    public int MaxLength { get; }

    public bool CanCount => _tokenizer is not null;

    /// <summary>
    /// Truncated lengths per text, or null when the backend has no tokenizer to count with. With
    /// <c>refuseTooLong</c> an over-long text is a 413 naming <c>param</c> (as text-embeddings-inference does).
    /// </summary>
    public int[]? Count(IReadOnlyList<string> texts, bool refuseTooLong, string param)
    {
        if (_tokenizer is null) return null;
        var counts = new int[texts.Count];
        for (int i = 0; i < texts.Count; i++)
        {
            int full = _tokenizer.Tokenize(texts[i]).Count + 2;
            if (MaxLength > 0 && full > MaxLength)
            {
                if (refuseTooLong)
                    throw ApiException.TooLarge($"Input validation error: `{param}` must have less than {MaxLength} tokens. Given: {full} (input {i}); send \"truncate\": true to truncate", param, "input_too_long");
                full = MaxLength;
            }
            counts[i] = full;
        }
        return counts;
    }
}
