// Downloads model files from the Hugging Face hub into the cache exactly as huggingface_hub lays it out: blobs named by
// ETag, snapshots/<commit>/<path> as relative symlinks to them, refs/<revision> holding the commit. Downloads go to
// blobs/<etag>.incomplete, resume with Range, are checked against the ETag (sha256 for LFS files, git blob sha1
// otherwise) and only then renamed and linked, so a snapshot never shows a half-written file.
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Semblance.Hub;

/// <summary>Fetches the files a sentence encoder needs from the hub (or an HF_ENDPOINT mirror) into a <see cref="HubCache"/>.</summary>
public sealed class HubClient : IDisposable
{
    /// <summary>
    /// What <see cref="DownloadAsync"/> fetches when no patterns are given: config, tokenizer files, safetensors weights
    /// (and their index), sentence-transformers module configs (modules.json, sentence_bert_config.json, 1_Pooling/config.json ...).
    /// </summary>
    public static IReadOnlyList<string> DefaultPatterns { get; } =
    [
        "config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json", "added_tokens.json",
        "*.safetensors", "model.safetensors.index.json",
        "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "*/config.json", "*/model.safetensors",
    ];

    private readonly HubSettings _settings;
    private readonly HttpClient _api;
    private readonly HttpClient _files;

    /// <summary>A client for <paramref name="settings"/> (see <see cref="HubSettings.FromEnvironment"/>).</summary>
    public HubClient(HubSettings settings)
    {
        _settings = settings;
        Cache = new HubCache(settings.CacheRoot);
        // Metadata requests must not follow redirects: the hub's own 302 carries X-Linked-Etag/X-Linked-Size for LFS files.
        _api = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(60) };
        _files = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = true, MaxAutomaticRedirections = 10 }) { Timeout = Timeout.InfiniteTimeSpan };
        foreach (var c in new[] { _api, _files })
        {
            c.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("semblance", typeof(HubClient).Assembly.GetName().Version?.ToString() ?? "1"));
            if (settings.Token is not null) c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", settings.Token);
        }
    }

    /// <summary>The cache files are written to.</summary>
    public HubCache Cache { get; }

    /// <summary>How many times one file is tried (resuming each time) before giving up.</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>
    /// Makes <paramref name="id"/> available in the cache and returns its snapshot directory. Only files matching
    /// <paramref name="include"/> (default <see cref="DefaultPatterns"/>; <c>*</c> stays within a path segment, <c>**</c>
    /// crosses them) are fetched; files already in the cache are not downloaded again. With HF_HUB_OFFLINE only the cache is used.
    /// </summary>
    public async Task<string> DownloadAsync(HubModelId id, IReadOnlyList<string>? include = null, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        if (_settings.Offline)
            return Cache.TryGetSnapshot(id)
                ?? throw new SemblanceException($"{id}: not in the cache {Cache.Root} and HF_HUB_OFFLINE is set, so nothing can be downloaded");

        var (commit, files) = await ListFilesAsync(id, cancellationToken);
        var patterns = (include is { Count: > 0 } ? include : DefaultPatterns).Select(GlobToRegex).ToList();
        var selected = files.Where(f => patterns.Any(p => p.IsMatch(f))).ToList();
        if (include is { Count: > 0 })
        {
            if (selected.Count == 0)
                throw new SemblanceException($"{id}: no file matches --include {string.Join(", ", include)} (the repository has {files.Count} files)");
        }
        else
        {
            if (!selected.Contains("config.json")) throw new ModelFormatException($"{id}: the repository has no config.json; expected a Hugging Face model");
            if (!selected.Any(f => f.EndsWith(".safetensors", StringComparison.Ordinal) && !f.Contains('/')))
                throw new ModelFormatException($"{id}: the repository has no safetensors weights (Semblance reads model.safetensors, not pytorch_model.bin)");
        }

        var snapshot = Cache.SnapshotDirectory(id, commit);
        foreach (var file in selected)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await FetchFileAsync(id, commit, file, snapshot, progress, cancellationToken);
        }
        if (!id.IsCommit) WriteRef(id, commit);
        return snapshot;
    }

    private async Task<(string Commit, List<string> Files)> ListFilesAsync(HubModelId id, CancellationToken ct)
    {
        var url = $"{_settings.Endpoint}/api/models/{id.Repo}/revision/{Uri.EscapeDataString(id.Revision)}";
        using var response = await SendAsync(_api, new HttpRequestMessage(HttpMethod.Get, url), HttpCompletionOption.ResponseContentRead, ct);
        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            var code = response.Headers.TryGetValues("X-Error-Code", out var v) ? v.FirstOrDefault() : null;
            throw new SemblanceException(code == "RevisionNotFound"
                ? $"{id}: revision '{id.Revision}' not found on {_settings.Endpoint}"
                : $"{id.Repo}: repository not found on {_settings.Endpoint} (HTTP {(int)response.StatusCode}); check the name, or set HF_TOKEN for a private or gated model");
        }
        EnsureSuccess(response, url);
        try
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStreamAsync(ct));
            var root = doc.RootElement;
            var sha = root.TryGetProperty("sha", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "";
            if (!HubModelId.IsCommitHash(sha)) throw new SemblanceException($"{url}: the reply has no commit hash in 'sha'");
            if (!root.TryGetProperty("siblings", out var siblings) || siblings.ValueKind != JsonValueKind.Array)
                throw new SemblanceException($"{url}: the reply has no 'siblings' file list");
            var files = siblings.EnumerateArray()
                .Select(e => e.TryGetProperty("rfilename", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString()! : "")
                .Where(f => f.Length > 0).ToList();
            return (sha, files);
        }
        catch (JsonException e)
        {
            throw new SemblanceException($"{url}: malformed JSON in the reply ({e.Message})");
        }
    }

    private async Task FetchFileAsync(HubModelId id, string commit, string file, string snapshot, IProgress<string>? progress, CancellationToken ct)
    {
        var segments = file.Split('/');
        if (segments.Any(s => s is "" or "." or ".."))
            throw new SemblanceException($"{id}: refusing file name '{file}' from the hub (empty, '.' or '..' path segment)");
        var target = Path.Combine([snapshot, .. segments]);
        if (File.Exists(target)) return;
        var url = $"{_settings.Endpoint}/{id.Repo}/resolve/{commit}/{string.Join('/', segments.Select(Uri.EscapeDataString))}";
        var (etag, size) = await HeadAsync(url, file, ct);
        var blob = Cache.BlobPath(id, etag);
        if (!File.Exists(blob) || new FileInfo(blob).Length != size)
        {
            progress?.Report($"{file}: downloading {size:N0} bytes");
            await FetchBlobAsync(url, file, blob, etag, size, progress, ct);
        }
        else progress?.Report($"{file}: already in the cache");
        Link(target, blob);
    }

    private async Task<(string ETag, long Size)> HeadAsync(string url, string file, CancellationToken ct)
    {
        for (int hop = 0; hop < 5; hop++)
        {
            var request = new HttpRequestMessage(HttpMethod.Head, url);
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
            using var response = await SendAsync(_api, request, HttpCompletionOption.ResponseHeadersRead, ct);
            string? Header(string name) => response.Headers.TryGetValues(name, out var v) ? v.FirstOrDefault()
                : response.Content.Headers.TryGetValues(name, out var c) ? c.FirstOrDefault() : null;
            int status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && response.Headers.Location is { } location && !location.IsAbsoluteUri)
            {
                // A relative redirect is the hub itself (e.g. a renamed repository): follow it for the metadata.
                url = new Uri(new Uri(url), location).ToString();
                continue;
            }
            if (status == 404) throw new SemblanceException($"{file}: not found on the hub ({url})");
            if (status is 401 or 403) throw new SemblanceException($"{file}: access denied (HTTP {status}); set HF_TOKEN for a private or gated model");
            if (status >= 400) EnsureSuccess(response, url);
            var etag = Header("X-Linked-Etag") ?? Header("ETag");
            var sizeText = Header("X-Linked-Size") ?? (response.Content.Headers.ContentLength?.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (etag is null || sizeText is null || !long.TryParse(sizeText, out long size) || size < 0)
                throw new SemblanceException($"{url}: the hub sent no ETag/size for {file}; expected ETag (or X-Linked-Etag) and Content-Length (or X-Linked-Size)");
            etag = NormalizeETag(etag);
            if (etag.Length == 0 || etag.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || etag.Contains(".."))
                throw new SemblanceException($"{url}: unusable ETag '{etag}' for {file}");
            return (etag, size);
        }
        throw new SemblanceException($"{url}: too many redirects");
    }

    private async Task FetchBlobAsync(string url, string file, string blob, string etag, long size, IProgress<string>? progress, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        var partial = blob + ".incomplete";
        string? lastError = null;
        bool mismatchSeen = false;
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
            if (have > size)
            {
                progress?.Report($"{file}: discarding a partial file of {have:N0} bytes, larger than the expected {size:N0}");
                File.Delete(partial);
                have = 0;
            }
            if (have < size)
            {
                lastError = await AppendAsync(url, partial, have, ct);
                if (lastError is not null)
                {
                    progress?.Report($"{file}: {lastError}; resuming");
                    continue;
                }
                have = new FileInfo(partial).Length;
                if (have != size)
                {
                    lastError = $"got {have:N0} bytes, expected {size:N0}";
                    if (have > size) File.Delete(partial);
                    progress?.Report($"{file}: {lastError}; resuming");
                    continue;
                }
            }
            if (!Verify(partial, etag, size))
            {
                File.Delete(partial);
                lastError = $"content does not match ETag {etag}";
                progress?.Report($"{file}: {lastError}; discarded");
                if (mismatchSeen) break;
                mismatchSeen = true;
                continue;
            }
            File.Move(partial, blob, overwrite: true);
            return;
        }
        throw new SemblanceException($"{file}: download from {url} failed after {MaxAttempts} attempts ({lastError}); run the command again to resume");
    }

    /// <summary>Appends bytes [have, end) of <paramref name="url"/> to <paramref name="partial"/>; returns an error to retry on, or null.</summary>
    private async Task<string?> AppendAsync(string url, string partial, long have, CancellationToken ct)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
        if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
        try
        {
            using var response = await SendAsync(_files, request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                File.Delete(partial);
                return "the server refused to resume (416)";
            }
            if ((int)response.StatusCode >= 500) return $"HTTP {(int)response.StatusCode} from the server";
            EnsureSuccess(response, url);
            // A 200 to a Range request means the server sent the whole file: start over.
            bool append = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            await using var output = new FileStream(partial, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            await body.CopyToAsync(output, 1 << 16, ct);
            await output.FlushAsync(ct);
            output.Flush(flushToDisk: true);
            return null;
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !ct.IsCancellationRequested)
        {
            return $"connection lost ({e.Message})";
        }
    }

    /// <summary>sha256 of the content for 64-hex ETags (LFS), git's blob sha1 ("blob N\0" + content) for 40-hex ones.</summary>
    private static bool Verify(string path, string etag, long size)
    {
        if (new FileInfo(path).Length != size) return false;
        bool lfs = Regex.IsMatch(etag, "^[0-9a-f]{64}$");
        bool git = Regex.IsMatch(etag, "^[0-9a-f]{40}$");
        if (!lfs && !git) return true;
        using var hash = IncrementalHash.CreateHash(lfs ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA1);
        if (git) hash.AppendData(Encoding.ASCII.GetBytes($"blob {size}\0"));
        using (var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        {
            var buffer = new byte[1 << 16];
            int n;
            while ((n = s.Read(buffer, 0, buffer.Length)) > 0) hash.AppendData(buffer, 0, n);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset()) == etag;
    }

    /// <summary>snapshots/COMMIT/PATH → ../../blobs/ETAG (relative, as huggingface_hub does); a copy where symlinks are not allowed.</summary>
    private static void Link(string target, string blob)
    {
        var dir = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(dir);
        var temp = target + ".link-" + Guid.NewGuid().ToString("N");
        try
        {
            File.CreateSymbolicLink(temp, Path.GetRelativePath(dir, blob));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            File.Copy(blob, temp);
        }
        File.Move(temp, target, overwrite: true);
    }

    private void WriteRef(HubModelId id, string commit)
    {
        var path = Path.Combine([Cache.RepoDirectory(id), "refs", .. id.Revision.Split('/')]);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        File.WriteAllText(temp, commit);
        File.Move(temp, path, overwrite: true);
    }

    private static string NormalizeETag(string etag)
    {
        if (etag.StartsWith("W/", StringComparison.Ordinal)) etag = etag[2..];
        return etag.Trim('"');
    }

    private async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpRequestMessage request, HttpCompletionOption completion, CancellationToken ct)
    {
        try
        {
            return await client.SendAsync(request, completion, ct);
        }
        catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError)
        {
            throw new SemblanceException($"cannot reach {_settings.Endpoint} ({e.Message}); check the network, or set HF_HUB_OFFLINE=1 to use only the cache", e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new SemblanceException($"{request.RequestUri}: no answer from {_settings.Endpoint} within {client.Timeout.TotalSeconds:0} s", e);
        }
    }

    private static void EnsureSuccess(HttpResponseMessage response, string url)
    {
        if (!response.IsSuccessStatusCode)
            throw new SemblanceException($"{url}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
    }

    private static Regex GlobToRegex(string glob)
    {
        var sb = new StringBuilder("^");
        for (int i = 0; i < glob.Length; i++)
        {
            char c = glob[i];
            if (c == '*' && i + 1 < glob.Length && glob[i + 1] == '*') { sb.Append(".*"); i++; }
            else if (c == '*') sb.Append("[^/]*");
            else if (c == '?') sb.Append("[^/]");
            else sb.Append(Regex.Escape(c.ToString()));
        }
        return new Regex(sb.Append('$').ToString(), RegexOptions.CultureInvariant);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _api.Dispose();
        _files.Dispose();
    }
}
