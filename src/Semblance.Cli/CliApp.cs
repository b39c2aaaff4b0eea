// Dispatches `semblance <command words> [options]` to the matching command and maps errors to exit codes.
using System.Reflection;
using System.Text;

namespace Semblance.Cli;

public static class CliApp
{
    public const int ExitUserError = 1;
    public const int ExitUsage = 2;

    private static readonly Lazy<IReadOnlyList<CliCommand>> AllCommands = new(() =>
        typeof(CliApp).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(CliCommand)) && !t.IsAbstract && t.GetConstructor(Type.EmptyTypes) is not null)
            .Select(t => (CliCommand)Activator.CreateInstance(t)!)
            .OrderBy(c => c.Name, StringComparer.Ordinal)
            .ToList());

    public static IReadOnlyList<CliCommand> Commands => AllCommands.Value;

    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr, Stream? stdinStream = null, bool? stderrIsTerminal = null)
    {
        // RoFormerTokenizer checkpoints (jieba words before WordPiece) load in every command.
        Semblance.Jieba.JiebaWordSegmenter.Register();
        bool verbose = args.Contains("--verbose");
        args = args.Where(a => a != "--verbose").ToArray();
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            PrintOverview(stdout);
            return args.Length == 0 ? ExitUsage : 0;
        }
        if (args[0] == "--version")
        {
            stdout.WriteLine(typeof(CliApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown");
            return 0;
        }

        if (args[0].StartsWith("[suggest", StringComparison.Ordinal))
            return CommandLineSyntax.Suggest(args, stdout);
        args = CommandLineSyntax.ExpandResponseFiles(args);
        var command = Match(args, out int used);
        if (command is null)
        {
            stderr.WriteLine($"error: unknown command '{string.Join(' ', args.TakeWhile(a => !a.StartsWith('-')))}'; run 'semblance --help' for the list");
            return ExitUsage;
        }
        var rest = args[used..];
        if (rest.Contains("--help") || rest.Contains("-h"))
        {
            PrintHelp(command, stdout);
            return 0;
        }
        try
        {
            var parsed = Parse(command, rest);
            var io = new CliIO(stdin, stdout, stderr, verbose, stdinStream, stderrIsTerminal ?? (!Console.IsErrorRedirected));
            int code = command.Execute(parsed, io);
            stdout.Flush();
            return code;
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"error: {e.Message} (see 'semblance {command.Name} --help')");
            return ExitUsage;
        }
        catch (SemblanceException e)
        {
            stderr.WriteLine(verbose ? $"error: {e}" : $"error: {e.Message}");
            return ExitUserError;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine("error: cancelled");
            return 130;
        }
        catch (IOException e) when (e is FileNotFoundException or DirectoryNotFoundException || IsDiskOrPipeError(e))
        {
            // Environment failures (disk full, broken pipe, vanished file) are the user's to fix, not bugs.
            stderr.WriteLine(verbose ? $"error: {e}" : $"error: {e.Message}");
            return ExitUserError;
        }
        catch (UnauthorizedAccessException e)
        {
            stderr.WriteLine(verbose ? $"error: {e}" : $"error: {e.Message}");
            return ExitUserError;
        }
    }

    private static bool IsDiskOrPipeError(IOException e) => e.GetType() == typeof(IOException);

    private static CliCommand? Match(string[] args, out int used)
    {
        CliCommand? best = null;
        used = 0;
        foreach (var c in Commands)
        {
            var words = c.Name.Split(' ');
            if (words.Length > args.Length || words.Length <= used) continue;
            bool ok = true;
            for (int i = 0; i < words.Length; i++)
                if (args[i] != words[i]) { ok = false; break; }
            if (ok) { best = c; used = words.Length; }
        }
        return best;
    }

    /// <summary>Parses the arguments after the command words with System.CommandLine (see <see cref="CommandLineSyntax"/>).</summary>
    internal static CommandArgs Parse(CliCommand command, string[] args) => CommandLineSyntax.Parse(command, args);

    private static void PrintOverview(TextWriter w)
    {
        w.WriteLine("semblance — sentence embeddings, whitening, search and STS evaluation in pure .NET");
        w.WriteLine();
        w.WriteLine("usage: semblance <command> [options]   (semblance <command> --help for its options)");
        w.WriteLine();
        int width = Commands.Max(c => c.Name.Length);
        foreach (var c in Commands) w.WriteLine($"  {c.Name.PadRight(width)}  {c.Summary}");
        w.WriteLine();
        w.WriteLine("global options: --verbose (stack traces on errors), --version");
    }

    internal static void PrintHelp(CliCommand c, TextWriter w)
    {
        var sb = new StringBuilder();
        sb.Append("usage: semblance ").Append(c.Name);
        if (c.Options.Count > 0) sb.Append(" [options]");
        if (c.Positionals is not null) sb.Append(' ').Append(c.Positionals);
        w.WriteLine(sb.ToString());
        w.WriteLine();
        w.WriteLine(c.Summary);
        if (c.Options.Count == 0) return;
        w.WriteLine();
        var rows = c.Options.Select(o => (Left: (o.Alias is null ? "" : o.Alias + ", ") + o.Name + (o.IsFlag ? "" : " " + o.ValueName), o.Help)).ToList();
        int width = rows.Max(r => r.Left.Length);
        foreach (var (left, help) in rows) w.WriteLine($"  {left.PadRight(width)}  {help}");
    }
}
