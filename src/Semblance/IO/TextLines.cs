// Reads UTF-8 text one item per line, strictly: invalid UTF-8 is an error naming the source and line.
using System.Text;

namespace Semblance.IO;

internal static class TextLines
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Lines of <paramref name="stream"/>, split on '\n' (a trailing '\r' is dropped; a final line without '\n' counts;
    /// empty lines are items). Streams: holds one line at a time. A leading UTF-8 BOM is skipped.
    /// </summary>
    public static IEnumerable<string> Read(Stream stream, string sourceName)
    {
        var buffer = new byte[1 << 16];
        var line = new MemoryStream();
        long lineNumber = 0;
        bool first = true;
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            int start = 0;
            if (first)
            {
                first = false;
                if (read >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF) start = 3;
            }
            while (start < read)
            {
                int nl = Array.IndexOf(buffer, (byte)'\n', start, read - start);
                if (nl < 0)
                {
                    line.Write(buffer, start, read - start);
                    break;
                }
                line.Write(buffer, start, nl - start);
                start = nl + 1;
                lineNumber++;
                yield return Decode(line, sourceName, lineNumber);
                line.SetLength(0);
            }
        }
        if (line.Length > 0)
        {
            lineNumber++;
            yield return Decode(line, sourceName, lineNumber);
        }
    }

    /// <summary>All lines of a file; a missing file is a user error naming the path.</summary>
    public static IEnumerable<string> ReadFile(string path)
    {
        var stream = OpenRead(path);
        return ReadAndDispose(stream, path);
    }

    private static IEnumerable<string> ReadAndDispose(Stream stream, string name)
    {
        using (stream)
            foreach (var line in Read(stream, name)) yield return line;
    }

    public static FileStream OpenRead(string path)
    {
        if (Directory.Exists(path)) throw new InputFormatException($"{path}: is a directory, expected a file");
        if (!File.Exists(path)) throw new InputFormatException($"{path}: file not found");
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
    }

    private static string Decode(MemoryStream line, string sourceName, long lineNumber)
    {
        var bytes = line.GetBuffer().AsSpan(0, (int)line.Length);
        if (bytes.Length > 0 && bytes[^1] == (byte)'\r') bytes = bytes[..^1];
        try
        {
            return Strict.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new InputFormatException($"{sourceName}: line {lineNumber}: invalid UTF-8 (byte offset {e.Index} in the line)");
        }
    }
}
