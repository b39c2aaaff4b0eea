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
    public void ParserFollowsPosixConventions()
    {
        var encode = CliApp.Commands.Single(c => c.Name == "encode");
        var parsed = CliApp.Parse(encode, ["--model=m1", "--batch-size", "8", "--model", "m2", "--normalize"]);
        Assert.Equal("m2", parsed.Get("--model"));          // a repeated option: the last one wins
        Assert.Equal(8, parsed.GetInt("--batch-size", 1));
        Assert.True(parsed.Has("--normalize"));
        Assert.False(parsed.Has("--pooling"));

        var similarity = CliApp.Commands.Single(c => c.Name == "similarity");
        var texts = CliApp.Parse(similarity, ["--model", "m", "--", "--not-an-option", "-1.5"]);
        Assert.Equal(["--not-an-option", "-1.5"], texts.Positionals);
        Assert.Equal("unknown option --nope", Assert.Throws<UsageException>(() => CliApp.Parse(similarity, ["--nope", "a", "b"])).Message);
    }

    [Fact]
    public void ResponseFilesExpandAndMissingOnesStayValues()
    {
        string dir = Directory.CreateTempSubdirectory("semblance-rsp").FullName;
        try
        {
            string rsp = Path.Combine(dir, "args.rsp");
            File.WriteAllText(rsp, "# the model and the first text\n--model /nonexistent/model\n\"first text\"\n");
            var (code, _, err) = Run("similarity", "@" + rsp, "second");
            Assert.Equal(1, code);   // parsed: it reached the model lookup
            Assert.Equal("error: /nonexistent/model: model directory not found", err.Trim());
            Assert.Equal(["@" + Path.Combine(dir, "absent.rsp"), "x"], CommandLineSyntax.ExpandResponseFiles(["@" + Path.Combine(dir, "absent.rsp"), "x"]));
            Assert.Equal(["--model", "/nonexistent/model", "first text", "--", "@" + rsp],
                CommandLineSyntax.ExpandResponseFiles(["@" + rsp, "--", "@" + rsp]));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void SuggestDirectiveCompletesCommandsAndOptions()
    {
        var (code, output, _) = Run("[suggest]", "encode --poo");
        Assert.Equal(0, code);
        Assert.Contains("--pooling", output.Split('\n', StringSplitOptions.TrimEntries));
        Assert.Contains("index", Run("[suggest:3]", "ind").Out.Split('\n', StringSplitOptions.TrimEntries));
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
