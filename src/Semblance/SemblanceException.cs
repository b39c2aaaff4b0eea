// User-facing errors: bad paths, corrupt files, wrong shapes. The CLI prints the message as one line.
using System.Text;

namespace Semblance;

/// <summary>
/// A problem with the user's input (file, option, data), as opposed to a bug. The message names the
/// thing and says what was expected; the CLI prints it without a stack trace and exits non-zero. Messages are
/// kept to one bounded line (control characters escaped, at most <see cref="MaxMessageLength"/> characters), so a
/// damaged file can never make an error echo megabytes of its content.
/// </summary>
public class SemblanceException : Exception
{
    /// <summary>Longest message kept; the rest is replaced by a note saying how much was cut.</summary>
    public const int MaxMessageLength = 600;

    public SemblanceException(string message) : base(Bound(message)) { }
    public SemblanceException(string message, Exception inner) : base(Bound(message), inner) { }

    /// <summary>
    /// A short, one-line, quoted excerpt of user input for an error message: control characters escaped, at most
    /// <paramref name="max"/> characters followed by "…" when cut.
    /// </summary>
    public static string Excerpt(string? text, int max = 40)
    {
        if (text is null) return "null";
        var sb = new StringBuilder("\"");
        AppendEscaped(sb, text.AsSpan(0, Math.Min(text.Length, max)));
        sb.Append(text.Length > max ? "\"…" : "\"");
        return sb.ToString();
    }

    private static string Bound(string message)
    {
        bool clean = message.Length <= MaxMessageLength;
        foreach (char c in message) if (char.IsControl(c) || char.IsSurrogate(c)) { clean = false; break; }
        if (clean) return message;
        var sb = new StringBuilder(Math.Min(message.Length, MaxMessageLength) + 40);
        AppendEscaped(sb, message.AsSpan(0, Math.Min(message.Length, MaxMessageLength)));
        if (message.Length > MaxMessageLength) sb.Append("… (").Append(message.Length - MaxMessageLength).Append(" more characters)");
        return sb.ToString();
    }

    private static void AppendEscaped(StringBuilder sb, ReadOnlySpan<char> text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { sb.Append(c).Append(text[++i]); continue; }
            if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (char.IsControl(c) || char.IsSurrogate(c)) sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
    }
}

/// <summary>A model directory or one of its files is missing, malformed or inconsistent.</summary>
public sealed class ModelFormatException : SemblanceException
{
    public ModelFormatException(string message) : base(message) { }
    public ModelFormatException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>User data (text, TSV, .npy, index) is malformed.</summary>
public sealed class InputFormatException : SemblanceException
{
    public InputFormatException(string message) : base(message) { }
    public InputFormatException(string message, Exception inner) : base(message, inner) { }
}
