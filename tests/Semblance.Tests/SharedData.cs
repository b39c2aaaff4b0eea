// Locates ../shared (fixtures and data beside the repo); tests that need it skip with a clear message when absent.
namespace Semblance.Tests;

public static class SharedData
{
    private static readonly Lazy<string?> Root = new(FindRoot);

    /// <summary>The shared directory, from SEMBLANCE_SHARED or the folder named "shared" beside the repository.</summary>
    public static string? Directory => Root.Value;

    public const string MissingMessage = "../shared (fixtures and data beside the repository) is not present; set SEMBLANCE_SHARED to its path to run this test";

    public static string Path(params string[] parts)
    {
        var root = Directory ?? throw new InvalidOperationException(MissingMessage);
        return System.IO.Path.Combine([root, .. parts]);
    }

    public static string FixtureModel(string name) => Path("fixtures", "models", name);

    private static string? FindRoot()
    {
        var env = Environment.GetEnvironmentVariable("SEMBLANCE_SHARED");
        if (!string.IsNullOrEmpty(env)) return System.IO.Directory.Exists(env) ? env : null;
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Semblance.sln")))
            dir = dir.Parent;
        if (dir?.Parent is null) return null;
        var candidate = System.IO.Path.Combine(dir.Parent.FullName, "shared");
        return System.IO.Directory.Exists(System.IO.Path.Combine(candidate, "fixtures")) ? candidate : null;
    }
}

/// <summary>A fact that is skipped, with a message saying why, when ../shared is absent.</summary>
public sealed class SharedFactAttribute : FactAttribute
{
    public SharedFactAttribute()
    {
        if (SharedData.Directory is null) Skip = SharedData.MissingMessage;
    }
}

/// <summary>A theory that is skipped, with a message saying why, when ../shared is absent.</summary>
public sealed class SharedTheoryAttribute : TheoryAttribute
{
    public SharedTheoryAttribute()
    {
        if (SharedData.Directory is null) Skip = SharedData.MissingMessage;
    }
}
