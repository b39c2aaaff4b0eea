// Parsed options of one command invocation, with typed accessors that turn bad values into usage errors.
using System.Globalization;

namespace Semblance.Cli;

public sealed class CommandArgs
{
    private readonly Dictionary<string, List<string>> _values;

    internal CommandArgs(Dictionary<string, List<string>> values, IReadOnlyList<string> positionals)
    {
        _values = values;
        Positionals = positionals;
    }

    public IReadOnlyList<string> Positionals { get; }

    public bool Has(string name) => _values.ContainsKey(name);

    public string? Get(string name) => _values.TryGetValue(name, out var v) ? v[^1] : null;

    public string Require(string name) => Get(name) ?? throw new UsageException($"missing required option {name}");

    public int GetInt(string name, int defaultValue, int min = int.MinValue, int max = int.MaxValue)
    {
        var s = Get(name);
        if (s is null) return defaultValue;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
            throw new UsageException($"{name}: '{s}' is not an integer");
        if (v < min || v > max)
            throw new UsageException(max == int.MaxValue ? $"{name}: {v} is out of range (at least {min})" : $"{name}: {v} is out of range ({min}..{max})");
        return v;
    }

    public double GetDouble(string name, double defaultValue, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        var s = Get(name);
        if (s is null) return defaultValue;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || double.IsNaN(v))
            throw new UsageException($"{name}: '{s}' is not a number");
        if (v < min || v > max) throw new UsageException($"{name}: {v} is out of range ({min}..{max})");
        return v;
    }

    /// <summary>A comma-separated list option, e.g. <c>--dims 0,256,128</c>.</summary>
    public IReadOnlyList<string> GetList(string name)
    {
        var s = Get(name);
        return s is null ? [] : s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
    }

    public string Choice(string name, string defaultValue, params string[] allowed)
    {
        var s = Get(name) ?? defaultValue;
        if (!allowed.Contains(s)) throw new UsageException($"{name}: '{s}' is not one of {string.Join("|", allowed)}");
        return s;
    }
}
