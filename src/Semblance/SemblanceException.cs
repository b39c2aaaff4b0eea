// User-facing errors: bad paths, corrupt files, wrong shapes. The CLI prints the message as one line.
namespace Semblance;

/// <summary>
/// A problem with the user's input (file, option, data), as opposed to a bug. The message names the
/// thing and says what was expected; the CLI prints it without a stack trace and exits non-zero.
/// </summary>
public class SemblanceException : Exception
{
    public SemblanceException(string message) : base(message) { }
    public SemblanceException(string message, Exception inner) : base(message, inner) { }
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
