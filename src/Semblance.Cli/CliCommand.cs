// The shape of a `semblance` sub-command: its name, options and body. Commands are discovered by reflection,
// so adding a command is adding one file under Commands/.
namespace Semblance.Cli;

/// <summary>One option: <c>--name VALUE</c>, or a flag when <see cref="ValueName"/> is null.</summary>
public sealed record OptionSpec(string Name, string? ValueName, string Help, string? Alias = null)
{
    public bool IsFlag => ValueName is null;
}

public abstract class CliCommand
{
    /// <summary>Words after `semblance`, e.g. "encode" or "bench encode".</summary>
    public abstract string Name { get; }

    public abstract string Summary { get; }

    public virtual IReadOnlyList<OptionSpec> Options => [];

    /// <summary>Usage of positional arguments for help, e.g. "\"text a\" \"text b\""; null when none are accepted.</summary>
    public virtual string? Positionals => null;

    public virtual int MinPositionals => 0;

    public virtual int MaxPositionals => Positionals is null ? 0 : int.MaxValue;

    public abstract int Execute(CommandArgs args, CliIO io);
}

/// <summary>A mistake in how the command was called: printed with a hint to --help, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
