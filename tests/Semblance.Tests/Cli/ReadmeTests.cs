// The README cannot drift from the CLI: its command synopsis names every command and every option each one has (and
// nothing else), and its server example talks to the address it starts on. scripts/readme-check.sh runs the blocks.
using System.Text.RegularExpressions;
using Semblance.Cli;

namespace Semblance.Tests.Cli;

public partial class ReadmeTests
{
    private static readonly string[] GlobalOptions = ["--help", "--verbose", "--version"];

    private static string Readme()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "README.md");
            if (File.Exists(path) && File.Exists(Path.Combine(dir.FullName, "Semblance.sln"))) return File.ReadAllText(path);
        }
        throw new InvalidOperationException("README.md not found above the test binaries");
    }

    /// <summary>The fenced block right after the HTML comment that starts with <paramref name="marker"/>.</summary>
    private static string[] Block(string marker)
    {
        var text = Readme();
        int at = text.IndexOf("<!-- " + marker, StringComparison.Ordinal);
        Assert.True(at >= 0, $"README has no '<!-- {marker}' block");
        int open = text.IndexOf("```", at, StringComparison.Ordinal);
        int body = text.IndexOf('\n', open) + 1;
        int close = text.IndexOf("```", body, StringComparison.Ordinal);
        return text[body..close].Split('\n');
    }

    /// <summary>Synopsis entries: "./semblance words ..." plus its indented continuation lines, comments dropped.</summary>
    private static Dictionary<string, string> SynopsisEntries()
    {
        var commandNames = CliApp.Commands.Select(c => c.Name).OrderByDescending(n => n.Length).ToList();
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        string? current = null;
        foreach (var raw in Block("readme-check: synopsis"))
        {
            var line = Regex.Replace(raw, @"\s#\s.*$", "");
            if (line.TrimStart().StartsWith('#') || line.Trim().Length == 0) continue;
            if (line.StartsWith("./semblance ", StringComparison.Ordinal))
            {
                var words = string.Join(' ', line["./semblance ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).TakeWhile(w => !w.StartsWith('-')));
                current = commandNames.FirstOrDefault(n => words == n || words.StartsWith(n + " ", StringComparison.Ordinal))
                    ?? throw new Xunit.Sdk.XunitException($"README synopsis names an unknown command: {line.Trim()}");
                Assert.False(entries.ContainsKey(current), $"README synopsis lists '{current}' twice");
                entries[current] = line;
            }
            else if (current is not null && char.IsWhiteSpace(line[0]))
            {
                entries[current] += " " + line;
            }
        }
        return entries;
    }

    [GeneratedRegex(@"(?<![\w-])(--[a-z][a-z0-9-]*|-k|-n)(?![\w-])")]
    private static partial Regex OptionPattern();

    [Fact]
    public void TheSynopsisListsEveryCommandWithExactlyItsOptions()
    {
        var entries = SynopsisEntries();
        foreach (var command in CliApp.Commands)
        {
            Assert.True(entries.TryGetValue(command.Name, out var entry), $"README synopsis lacks `semblance {command.Name}`");
            var listed = OptionPattern().Matches(entry).Select(m => m.Value).ToHashSet(StringComparer.Ordinal);
            foreach (var option in command.Options)
                Assert.True(listed.Contains(option.Name) || (option.Alias is not null && listed.Contains(option.Alias)),
                    $"README synopsis of `{command.Name}` lacks {option.Name}");
            var known = command.Options.SelectMany(o => o.Alias is null ? [o.Name] : new[] { o.Name, o.Alias }).Concat(GlobalOptions).ToHashSet();
            foreach (var option in listed)
                Assert.True(known.Contains(option), $"README synopsis of `{command.Name}` lists {option}, which the command does not have");
        }
    }

    [Fact]
    public void TheServerExampleCallsTheAddressItStartsOn()
    {
        var lines = Block("readme-check: server");
        var serve = lines.Single(l => l.Contains("./semblance serve", StringComparison.Ordinal));
        var url = Regex.Match(serve, @"--urls (\S+)").Groups[1].Value;
        Assert.StartsWith("http://127.0.0.1:", url);
        var calls = lines.Where(l => l.TrimStart().StartsWith("curl", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(calls);
        Assert.All(calls, c => Assert.Contains(url + "/", c));
    }
}
