// The CLI framework: dispatch, option parsing, usage errors (exit 2), help.
using Semblance.Cli;

namespace Semblance.Tests.Cli;

public class CliAppTests
{
    internal static (int Code, string Out, string Err) Run(params string[] args) => RunWithInput(null, args);

    internal static (int Code, string Out, string Err) RunWithInput(string? stdin, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        Stream? input = stdin is null ? null : new MemoryStream(System.Text.Encoding.UTF8.GetBytes(stdin));
        int code = CliApp.Run(args, TextReader.Null, o, e, input, stderrIsTerminal: false);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void HelpListsCommands()
    {
        var (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("encode", output);
        Assert.Contains("bench encode", output);
    }

    [Fact]
    public void UnknownCommandIsUsageError()
    {
        var (code, _, err) = Run("frobnicate");
        Assert.Equal(2, code);
        Assert.Contains("unknown command 'frobnicate'", err);
    }

    [Fact]
    public void UnknownOptionIsUsageError()
    {
        var (code, _, err) = Run("encode", "--model", "m", "--bogus");
        Assert.Equal(2, code);
        Assert.Equal("error: unknown option --bogus (see 'semblance encode --help')", err.Trim());
    }

    [Fact]
    public void MissingValueAndBadIntegerAreUsageErrors()
    {
        Assert.Contains("--model needs a value", Run("encode", "--model").Err);
        var (code, _, err) = Run("encode", "--model", "m", "--batch-size", "ten");
        Assert.Equal(2, code);
        Assert.Contains("--batch-size: 'ten' is not an integer", err);
    }

    [Fact]
    public void MissingModelDirectoryIsOneLineUserError()
    {
        var (code, _, err) = RunWithInput("hello\n", "encode", "--model", "/nonexistent/model");
        Assert.Equal(1, code);
        Assert.Equal("error: /nonexistent/model: model directory not found", err.Trim());
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void NpyNeedsOutput()
    {
        var (code, _, err) = Run("encode", "--model", "m", "--format", "npy");
        Assert.Equal(2, code);
        Assert.Contains("--format npy needs --output FILE", err);
    }

    [Fact]
    public void CommandHelpShowsOptions()
    {
        var (code, output, _) = Run("encode", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--pooling P", output);
    }
}
