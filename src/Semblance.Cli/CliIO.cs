// Standard streams and file opening for commands: `-`/absent means stdin/stdout, as the CLI contract says.
using System.Text;
using Semblance.IO;

namespace Semblance.Cli;

public sealed class CliIO(TextReader stdin, TextWriter stdout, TextWriter stderr, bool verbose, Stream? stdinStream = null, bool stderrIsTerminal = false)
{
    public TextReader In { get; } = stdin;
    public TextWriter Out { get; } = stdout;
    public TextWriter Err { get; } = stderr;
    public bool Verbose { get; } = verbose;

    /// <summary>True when progress bars may be drawn (stderr is an interactive terminal).</summary>
    public bool ShowProgress { get; } = stderrIsTerminal;

    /// <summary>Input lines from FILE, or from stdin when <paramref name="path"/> is null or "-".</summary>
    public IEnumerable<string> ReadLines(string? path)
    {
        if (path is null || path == "-")
        {
            if (stdinStream is not null) return TextLines.Read(stdinStream, "<stdin>");
            return ReadReader(In);
        }
        return TextLines.ReadFile(path);
    }

    private static IEnumerable<string> ReadReader(TextReader reader)
    {
        string? line;
        while ((line = reader.ReadLine()) is not null) yield return line;
    }

    /// <summary>A text writer on FILE (written crash-safely on dispose) or stdout when null or "-".</summary>
    public OutputText OpenOutput(string? path) => new(path is null || path == "-" ? null : path, Out);
}

/// <summary>Text output that goes to a temp file renamed into place when committed, or straight to stdout.</summary>
public sealed class OutputText : IDisposable
{
    private readonly string? _path;
    private readonly string? _temp;
    private readonly StreamWriter? _file;
    private bool _committed;

    internal OutputText(string? path, TextWriter stdout)
    {
        if (path is null)
        {
            Writer = stdout;
            return;
        }
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new SemblanceException($"{path}: directory '{dir}' does not exist");
        _path = full;
        _temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        _file = new StreamWriter(new FileStream(_temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16), new UTF8Encoding(false));
        _file.NewLine = "\n";
        Writer = _file;
    }

    public TextWriter Writer { get; }

    /// <summary>Flushes; for a file, syncs it and renames it over the target. Without this, the target is untouched.</summary>
    public void Commit()
    {
        Writer.Flush();
        if (_file is null) return;
        _file.Flush();
        ((FileStream)_file.BaseStream).Flush(flushToDisk: true);
        _file.Dispose();
        File.Move(_temp!, _path!, overwrite: true);
        _committed = true;
    }

    public void Dispose()
    {
        if (_file is null || _committed) return;
        _file.Dispose();
        try { File.Delete(_temp!); } catch (IOException) { }
    }
}
