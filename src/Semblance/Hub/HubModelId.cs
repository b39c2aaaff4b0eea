// A Hugging Face model reference as typed by users, ORG/NAME[@REVISION], and its folder name in the hub cache.
using System.Text.RegularExpressions;

namespace Semblance.Hub;

/// <summary>A model repository on the Hugging Face hub at a revision (branch, tag or commit hash; default "main").</summary>
public sealed partial record HubModelId(string Repo, string Revision)
{
    /// <summary>The branch used when no revision is given.</summary>
    public const string DefaultRevision = "main";

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex RepoPattern();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();

    /// <summary>Parses <c>ORG/NAME</c> or <c>ORG/NAME@REVISION</c>; false for anything else (paths, bare names).</summary>
    public static bool TryParse(string text, out HubModelId id)
    {
        id = null!;
        int at = text.IndexOf('@');
        var repo = at < 0 ? text : text[..at];
        var revision = at < 0 ? DefaultRevision : text[(at + 1)..];
        if (!RepoPattern().IsMatch(repo) || repo.Contains("..", StringComparison.Ordinal) || repo.EndsWith('.')) return false;
        if (revision.Length == 0 || revision.Any(char.IsWhiteSpace) || revision.Contains("..", StringComparison.Ordinal) || revision.StartsWith('/')) return false;
        id = new HubModelId(repo, revision);
        return true;
    }

    /// <summary>Parses or throws a <see cref="SemblanceException"/> saying what a model id looks like.</summary>
    public static HubModelId Parse(string text) => TryParse(text, out var id) ? id
        : throw new SemblanceException($"'{text}': not a Hugging Face model id; expected ORG/NAME or ORG/NAME@REVISION");

    /// <summary>True when <see cref="Revision"/> is a full commit hash rather than a branch or tag.</summary>
    public bool IsCommit => IsCommitHash(Revision);

    /// <summary>The repository's folder in the cache: <c>models--ORG--NAME</c>.</summary>
    public string CacheFolderName => "models--" + Repo.Replace("/", "--", StringComparison.Ordinal);

    internal static bool IsCommitHash(string s) => CommitPattern().IsMatch(s);

    /// <inheritdoc/>
    public override string ToString() => Revision == DefaultRevision ? Repo : $"{Repo}@{Revision}";
}
