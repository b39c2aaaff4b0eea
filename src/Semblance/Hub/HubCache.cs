// Reads the huggingface_hub cache layout: models--ORG--NAME/{refs/<revision>, blobs/<etag>, snapshots/<commit>/...}.
namespace Semblance.Hub;

/// <summary>The on-disk cache shared with Python's huggingface_hub, so models it downloaded are reused as they are.</summary>
public sealed class HubCache(string root)
{
    /// <summary>The cache root (holds one <c>models--ORG--NAME</c> folder per repository).</summary>
    public string Root { get; } = root;

    /// <summary><c>ROOT/models--ORG--NAME</c>.</summary>
    public string RepoDirectory(HubModelId id) => Path.Combine(Root, id.CacheFolderName);

    /// <summary>The commit a revision points to: the revision itself for a commit hash, else the content of <c>refs/REVISION</c>.</summary>
    public string? ResolveCommit(HubModelId id)
    {
        if (id.IsCommit) return id.Revision;
        var refPath = Path.Combine(RepoDirectory(id), "refs", id.Revision);
        if (!File.Exists(refPath)) return null;
        var commit = File.ReadAllText(refPath).Trim();
        return HubModelId.IsCommitHash(commit) ? commit : null;
    }

    /// <summary>The snapshot folder of <paramref name="id"/> when it is cached with a config.json, else null.</summary>
    public string? TryGetSnapshot(HubModelId id)
    {
        var commit = ResolveCommit(id);
        if (commit is null) return null;
        var dir = SnapshotDirectory(id, commit);
        return File.Exists(Path.Combine(dir, "config.json")) ? dir : null;
    }

    /// <summary><c>ROOT/models--ORG--NAME/snapshots/COMMIT</c>.</summary>
    public string SnapshotDirectory(HubModelId id, string commit) => Path.Combine(RepoDirectory(id), "snapshots", commit);

    /// <summary><c>ROOT/models--ORG--NAME/blobs/ETAG</c>.</summary>
    public string BlobPath(HubModelId id, string etag) => Path.Combine(RepoDirectory(id), "blobs", etag);
}
