// Line reading: empty lines are items, CRLF, final line without newline, BOM, strict UTF-8 with line numbers.
using System.Text;
using Semblance.IO;

namespace Semblance.Tests.IO;

public class TextLinesTests
{
    private static List<string> Lines(byte[] bytes) => TextLines.Read(new MemoryStream(bytes), "test.txt").ToList();

    [Fact]
    public void EmptyLinesAreItemsAndFinalLineWithoutNewlineCounts()
    {
        Assert.Equal(["a", "", "b"], Lines(Encoding.UTF8.GetBytes("a\n\nb")));
        Assert.Equal(["a", ""], Lines(Encoding.UTF8.GetBytes("a\n\n")));
        Assert.Empty(Lines([]));
    }

    [Fact]
    public void CrLfAndBomAreHandled()
    {
        Assert.Equal(["x", "y"], Lines([0xEF, 0xBB, 0xBF, (byte)'x', (byte)'\r', (byte)'\n', (byte)'y']));
    }

    [Fact]
    public void UnicodeLineSeparatorIsNotALineBreak()
    {
        Assert.Equal(["a\u2028b", "中文"], Lines(Encoding.UTF8.GetBytes("a\u2028b\n中文\n")));
    }

    [Fact]
    public void LongLinesAcrossBufferBoundariesSurvive()
    {
        var longLine = new string('é', 100_000);
        Assert.Equal([longLine, "z"], Lines(Encoding.UTF8.GetBytes(longLine + "\nz")));
    }

    [Fact]
    public void InvalidUtf8NamesFileAndLine()
    {
        var bytes = Encoding.UTF8.GetBytes("ok\nfine\n").Concat(new byte[] { (byte)'b', 0xC3, 0x28, (byte)'\n' }).ToArray();
        var e = Assert.Throws<InputFormatException>(() => Lines(bytes));
        Assert.Contains("test.txt: line 3: invalid UTF-8", e.Message);
    }

    [Fact]
    public void MissingFileIsAUserError()
    {
        var e = Assert.Throws<InputFormatException>(() => TextLines.ReadFile("/nonexistent/x.txt").ToList());
        Assert.Contains("/nonexistent/x.txt: file not found", e.Message);
    }
}
