// A WordPiece vocabulary: token ↔ id, with allocation-free lookups of character spans.
using System.Text;

namespace Semblance.Text;

/// <summary>Token strings by id and ids by token; token strings handed out are the vocabulary's own instances.</summary>
public sealed class Vocabulary
{
    private readonly string[] _tokens;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _spanIds;

    /// <summary>
    /// Builds a vocabulary where token i has id i. A token listed twice maps to its last id, as Hugging Face's
    /// <c>load_vocab</c> does; both ids keep their token string.
    /// </summary>
    public Vocabulary(IReadOnlyList<string> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        _tokens = new string[tokens.Count];
        _ids = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i] ?? throw new ArgumentException($"token {i} is null", nameof(tokens));
            _tokens[i] = token;
            _ids[token] = i;
            MaxTokenLength = Math.Max(MaxTokenLength, token.Length);
        }
        _spanIds = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => _tokens.Length;

    /// <summary>Length in UTF-16 units of the longest token; no longer piece can match.</summary>
    public int MaxTokenLength { get; }

    public string this[int id] => _tokens[id];

    public bool TryGetId(string token, out int id) => _ids.TryGetValue(token, out id);

    public bool TryGetId(ReadOnlySpan<char> token, out int id) => _spanIds.TryGetValue(token, out id);

    /// <summary>
    /// Reads a BERT <c>vocab.txt</c> the way Python's <c>readlines()</c> does: UTF-8, one token per line, lines end at
    /// \n, \r\n or \r, no other trimming. U+2028/U+2029 are not line breaks (bert-base-chinese has U+2028 as a token).
    /// </summary>
    public static Vocabulary ReadVocabTxt(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException($"{path}: cannot be read ({e.Message}); expected a readable vocab.txt", e);
        }
        return FromVocabTxtText(DecodeVocabTxt(bytes, path), path);
    }

    /// <summary>vocab.txt bytes as text with every line ending (\r\n, \r) turned into \n; <paramref name="source"/> names it in errors.</summary>
    public static string DecodeVocabTxt(byte[] bytes, string source)
    {
        string text;
        try
        {
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new ModelFormatException($"{source}: not valid UTF-8 ({e.Message}); expected one UTF-8 token per line", e);
        }
        return text.Contains('\r') ? text.Replace("\r\n", "\n").Replace('\r', '\n') : text;
    }

    /// <summary>The vocabulary of text from <see cref="DecodeVocabTxt"/>: one token per line.</summary>
    public static Vocabulary FromVocabTxtText(string text, string source)
    {
        var lines = text.Split('\n');
        int count = text.Length == 0 ? 0 : text.EndsWith('\n') ? lines.Length - 1 : lines.Length;
        if (count == 0)
            throw new ModelFormatException($"{source}: the vocabulary is empty; expected one token per line");
        return new Vocabulary(new ArraySegment<string>(lines, 0, count));
    }
}
