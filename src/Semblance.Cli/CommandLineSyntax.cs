// The command-line grammar on System.CommandLine: each CliCommand's OptionSpec list becomes a System.CommandLine
// command (valued options may repeat, flags take no value, positionals are one argument list), so parsing follows
// its POSIX and Windows conventions (--name value, --name=value, --name:value, "--" ends the options, short-alias
// bundling), response files (@FILE, one or more arguments per line, # comments) and completions
// (`semblance "[suggest:POSITION]" "COMMAND LINE"`). Messages stay in the CLI's own one-line style.
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Semblance.Cli;

internal static class CommandLineSyntax
{
    private sealed record Grammar(Command Command, Dictionary<OptionSpec, Option> Options, Argument<string[]> Positionals);

    private static readonly Dictionary<CliCommand, Grammar> Grammars = new(ReferenceEqualityComparer.Instance);

    private static readonly Lazy<RootCommand> Tree = new(BuildTree);

    private static ParserConfiguration Configuration() => new() { ResponseFileTokenReplacer = ReplaceResponseFile };

    /// <summary>Parses the arguments after the command words into <see cref="CommandArgs"/>.</summary>
    public static CommandArgs Parse(CliCommand command, string[] args)
    {
        Grammar grammar;
        lock (Grammars)
        {
            if (!Grammars.TryGetValue(command, out grammar!))
                Grammars[command] = grammar = Build(command, new Command(command.Name.Replace(' ', '-'), command.Summary));
        }
        // Response files were expanded with the command words (ExpandResponseFiles); an '@' left here is a value.
        var result = grammar.Command.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        // System.CommandLine hands an unknown "--name" to the positional list; before "--" that is a mistake.
        var positionalTokens = new HashSet<Token>(result.GetResult(grammar.Positionals)?.Tokens ?? [], ReferenceEqualityComparer.Instance);
        bool afterDoubleDash = false;
        foreach (var token in result.Tokens)
        {
            if (token.Type == TokenType.DoubleDash) afterDoubleDash = true;
            else if (!afterDoubleDash && positionalTokens.Contains(token) && LooksLikeOption(token.Value))
                throw new UsageException($"unknown option {OptionName(token.Value)}");
        }
        foreach (var (spec, option) in grammar.Options)
        {
            var r = result.GetResult(option);
            if (r is not null && !spec.IsFlag && r.Tokens.Count == 0)
                throw new UsageException($"{spec.Name} needs a value ({spec.ValueName})");
        }
        if (result.Errors.Count > 0) throw new UsageException(Sentence(result.Errors[0].Message));

        var values = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (spec, option) in grammar.Options)
        {
            if (result.GetResult(option) is not { Implicit: false } r) continue;
            if (spec.IsFlag)
            {
                if (result.GetValue((Option<bool>)option)) values[spec.Name] = ["true"];
            }
            else values[spec.Name] = [.. r.Tokens.Select(t => t.Value)];
        }
        var positionals = result.GetValue(grammar.Positionals) ?? [];
        if (positionals.Length < command.MinPositionals || positionals.Length > command.MaxPositionals)
        {
            if (command.Positionals is null) throw new UsageException($"unexpected argument '{positionals[0]}'");
            throw new UsageException($"expected {command.Positionals}");
        }
        return new CommandArgs(values, positionals);
    }

    /// <summary>Replaces every <c>@FILE</c> argument naming an existing file by the arguments it holds.</summary>
    public static string[] ExpandResponseFiles(string[] args)
    {
        if (!args.Any(a => a.Length > 1 && a[0] == '@')) return args;
        var expanded = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "--") { expanded.AddRange(args[i..]); break; }
            if (a.Length < 2 || a[0] != '@') { expanded.Add(a); continue; }
            if (ReplaceResponseFile(a[1..], out var tokens, out var error)) expanded.AddRange(tokens!);
            else if (error is not null) throw new SemblanceException(error);
            else expanded.Add(a);
        }
        return [.. expanded];
    }

    /// <summary>Prints the completions for a partial command line, one per line (the dotnet-suggest protocol).</summary>
    public static int Suggest(string[] args, TextWriter stdout)
    {
        string directive = args[0];
        string line = args.Length > 1 ? string.Join(' ', args[1..]) : "";
        if (line.StartsWith("semblance", StringComparison.Ordinal)) line = line["semblance".Length..].TrimStart();
        int? position = null;
        int colon = directive.IndexOf(':');
        if (colon > 0 && int.TryParse(directive.AsSpan(colon + 1, directive.Length - colon - 2), NumberStyles.None, CultureInfo.InvariantCulture, out int p))
            position = Math.Clamp(p, 0, line.Length);
        var result = Tree.Value.Parse(line, Configuration());
        foreach (var item in result.GetCompletions(position).Select(c => c.Label).Distinct(StringComparer.Ordinal))
            stdout.WriteLine(item);
        return 0;
    }

    private static RootCommand BuildTree()
    {
        var root = new RootCommand("semblance");
        foreach (var c in CliApp.Commands)
        {
            var words = c.Name.Split(' ');
            Command parent = root;
            foreach (var word in words[..^1])
            {
                var next = parent.Subcommands.FirstOrDefault(s => s.Name == word);
                if (next is null) parent.Subcommands.Add(next = new Command(word));
                parent = next;
            }
            var existing = parent.Subcommands.FirstOrDefault(s => s.Name == words[^1]);
            var leaf = existing ?? new Command(words[^1], c.Summary);
            if (existing is null) parent.Subcommands.Add(leaf);
            Build(c, leaf);
        }
        return root;
    }

    private static Grammar Build(CliCommand command, Command target)
    {
        var options = new Dictionary<OptionSpec, Option>();
        foreach (var spec in command.Options)
        {
            string[] aliases = spec.Alias is null ? [] : [spec.Alias];
            Option option = spec.IsFlag
                ? new Option<bool>(spec.Name, aliases) { Description = spec.Help, Arity = ArgumentArity.Zero }
                : new Option<string[]>(spec.Name, aliases)
                {
                    Description = spec.Help, HelpName = spec.ValueName, Arity = ArgumentArity.ZeroOrMore,
                    AllowMultipleArgumentsPerToken = false,
                };
            target.Options.Add(option);
            options[spec] = option;
        }
        var positionals = new Argument<string[]>("arguments") { Arity = ArgumentArity.ZeroOrMore, Description = command.Positionals };
        target.Arguments.Add(positionals);
        return new Grammar(target, options, positionals);
    }

    private static bool ReplaceResponseFile(string path, out IReadOnlyList<string>? tokens, out string? error)
    {
        tokens = null;
        error = null;
        if (!File.Exists(path)) return false;   // not a response file: the '@' text stays a value
        try
        {
            var list = new List<string>();
            foreach (var raw in File.ReadLines(path))
            {
                string line = raw.Trim();
                if (line.Length == 0 || line[0] == '#') continue;
                list.AddRange(CommandLineParser.SplitCommandLine(line));
            }
            tokens = list;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"{path}: cannot read the response file ({e.Message})";
            return false;
        }
    }

    private static bool LooksLikeOption(string a) =>
        a.Length > 1 && a[0] == '-' && !(char.IsDigit(a[1]) || a[1] == '.');

    private static string OptionName(string a)
    {
        int eq = a.IndexOfAny(['=', ':']);
        return a.StartsWith("--", StringComparison.Ordinal) && eq > 0 ? a[..eq] : a;
    }

    private static string Sentence(string message) =>
        message.Length > 1 && char.IsUpper(message[0]) && !char.IsUpper(message[1])
            ? char.ToLowerInvariant(message[0]) + message[1..].TrimEnd('.')
            : message.TrimEnd('.');
}
