// Ownership of output directories: a command writes only into a directory it created, an empty one, or one that
// carries its own marker file; it never writes into (or deletes from) a directory full of someone else's files.
namespace Semblance.IO;

/// <summary>
/// The ownership rule for every directory Semblance writes (index directories, model directories, training outputs).
/// A directory is ours when it does not exist yet (it is created), is empty, or holds the marker file
/// <see cref="MarkerFile"/> naming the same kind of output (or a kind-specific legacy sign, such as an index
/// manifest). Anything else is refused with a one-line error before a single file is touched.
/// </summary>
internal static class OutputDirectory
{
    /// <summary>The marker file: one line, the kind of output that owns the directory (e.g. "semblance-index").</summary>
    public const string MarkerFile = ".semblance";

    /// <summary>Marker kind of model directories Semblance writes (fit-default, train --output).</summary>
    public const string ModelKind = "semblance-model";

    /// <summary>What <see cref="Claim"/> found.</summary>
    public enum State
    {
        /// <summary>The directory did not exist or was empty; it is now ours (marker written).</summary>
        New,

        /// <summary>The directory already held output of this kind (marker or legacy sign).</summary>
        Ours,
    }

    /// <summary>
    /// Makes <paramref name="directory"/> ready to receive output of <paramref name="kind"/>. Existing output of the same
    /// kind is accepted only when <paramref name="replace"/> is true (otherwise <paramref name="existsHint"/> is appended
    /// to the refusal, e.g. "pass --force to replace it"); a non-empty directory of any other kind is always refused.
    /// </summary>
    public static State Claim(string directory, string kind, bool replace, string existsHint, Func<string, bool>? legacyOwned = null)
    {
        var state = Check(directory, kind, replace, existsHint, legacyOwned);
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SemblanceException($"{directory}: cannot create the directory ({e.Message})");
        }
        if (ReadMarker(directory) != kind) WriteMarker(directory, kind);
        return state;
    }

    /// <summary>The checks of <see cref="Claim"/> without creating or writing anything (to fail before long work).</summary>
    public static State Check(string directory, string kind, bool replace, string existsHint, Func<string, bool>? legacyOwned = null)
    {
        if (File.Exists(directory)) throw new SemblanceException($"{directory}: is a file, expected a directory to write into");
        if (!Directory.Exists(directory)) return State.New;
        var owner = ReadMarker(directory);
        // Empty, or nothing but our own marker (a run that failed before writing anything): nothing to lose.
        if (Directory.EnumerateFileSystemEntries(directory).All(e => owner is not null && Path.GetFileName(e) == MarkerFile))
            return State.New;
        if (owner == kind || (owner is null && legacyOwned?.Invoke(directory) == true))
        {
            if (!replace) throw new SemblanceException($"{directory}: already holds a {kind}; {existsHint}");
            return State.Ours;
        }
        if (owner is not null)
            throw new SemblanceException($"{directory}: holds a {owner}, not a {kind}; choose a new or empty directory");
        throw new SemblanceException($"{directory}: exists, is not empty and was not created by semblance (no {MarkerFile} marker); choose a new or empty directory (nothing was written)");
    }

    /// <summary>True when the directory carries the marker of <paramref name="kind"/> or the legacy sign.</summary>
    public static bool IsOwned(string directory, string kind, Func<string, bool>? legacyOwned = null)
    {
        if (!Directory.Exists(directory)) return false;
        var owner = ReadMarker(directory);
        return owner == kind || (owner is null && legacyOwned?.Invoke(directory) == true);
    }

    /// <summary>The kind named by the marker file, or null when there is none (or it is unreadable).</summary>
    public static string? ReadMarker(string directory)
    {
        var path = Path.Combine(directory, MarkerFile);
        if (!File.Exists(path)) return null;
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var buffer = new byte[64];
            int n = fs.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            var text = System.Text.Encoding.ASCII.GetString(buffer, 0, n).Trim();
            return text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || c == '-') ? text : "unrecognised output";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void WriteMarker(string directory, string kind) =>
        AtomicFile.WriteAllText(Path.Combine(directory, MarkerFile), kind + "\n");
}
