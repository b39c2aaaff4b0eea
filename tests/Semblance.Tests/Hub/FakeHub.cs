// A loopback Kestrel that speaks the hub's URL scheme (/api/models/.../revision/..., /resolve/..., LFS redirects to a CDN
// path) over an in-memory file set, with switches to drop connections mid-file or serve corrupt bytes.
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Semblance.Tests.Hub;

internal sealed class FakeHub : IAsyncDisposable
{
    public const string Repo = "test-org/tiny-bert";
    public const string Commit = "0123456789abcdef0123456789abcdef01234567";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _drops = new();

    private FakeHub(IReadOnlyDictionary<string, byte[]> files, WebApplication app)
    {
        Files = files;
        _app = app;
    }

    public IReadOnlyDictionary<string, byte[]> Files { get; }

    /// <summary>"METHOD path [range]" per request, in arrival order.</summary>
    public ConcurrentQueue<string> Log { get; } = new();

    /// <summary>File → bytes after which the next GET of it is cut off (once).</summary>
    public void DropOnce(string file, int afterBytes) => _drops[file] = afterBytes;

    /// <summary>Serve flipped bytes for this file on every GET.</summary>
    public string? CorruptFile { get; set; }

    public string Endpoint => _app.Urls.First();

    public static bool IsLfs(string file) => file.EndsWith(".safetensors", StringComparison.Ordinal) || file.EndsWith(".bin", StringComparison.Ordinal);

    public static string ETagOf(string file, byte[] content) => IsLfs(file)
        ? Convert.ToHexStringLower(SHA256.HashData(content))
        : Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {content.Length}\0"), .. content]));

    /// <summary>The fixture model's files when ../shared is present, else a small generated set; plus files a download must skip.</summary>
    public static Dictionary<string, byte[]> ModelFiles()
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (SharedData.Directory is not null)
        {
            var dir = SharedData.FixtureModel("bert-tiny-uncased");
            foreach (var name in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt" })
                files[name] = File.ReadAllBytes(Path.Combine(dir, name));
        }
        else
        {
            var rng = new Random(7);
            var weights = new byte[300_000];
            rng.NextBytes(weights);
            files["config.json"] = Encoding.UTF8.GetBytes("{\"model_type\":\"bert\",\"hidden_size\":8}");
            files["model.safetensors"] = weights;
            files["vocab.txt"] = Encoding.UTF8.GetBytes("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
        }
        files["modules.json"] = Encoding.UTF8.GetBytes("[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}]");
        files["1_Pooling/config.json"] = Encoding.UTF8.GetBytes("{\"word_embedding_dimension\":32,\"pooling_mode_cls_token\":false,\"pooling_mode_mean_tokens\":true}");
        files["pytorch_model.bin"] = new byte[5000];
        files["README.md"] = Encoding.UTF8.GetBytes("# tiny\n");
        return files;
    }

    public static async Task<FakeHub> StartAsync(IReadOnlyDictionary<string, byte[]> files)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var hub = new FakeHub(files, app);
        var byEtag = files.ToDictionary(f => ETagOf(f.Key, f.Value), f => f.Key);
        app.Use(async (ctx, next) =>
        {
            hub.Log.Enqueue($"{ctx.Request.Method} {ctx.Request.Path}{(ctx.Request.Headers.Range.Count > 0 ? " " + ctx.Request.Headers.Range : "")}");
            await next(ctx);
        });
        app.MapGet("/api/models/{org}/{name}/revision/{rev}", (HttpContext ctx, string org, string name, string rev) =>
        {
            if ($"{org}/{name}" != Repo)
            {
                ctx.Response.Headers["X-Error-Code"] = "RepoNotFound";
                return Results.NotFound();
            }
            if (rev is not ("main" or Commit))
            {
                ctx.Response.Headers["X-Error-Code"] = "RevisionNotFound";
                return Results.NotFound();
            }
            var json = JsonSerializer.Serialize(new { id = Repo, sha = Commit, siblings = files.Keys.Select(k => new { rfilename = k }) });
            return Results.Text(json, "application/json");
        });
        app.MapMethods("/{org}/{name}/resolve/{rev}/{**path}", ["GET", "HEAD"], async (HttpContext ctx, string org, string name, string rev, string path) =>
        {
            if ($"{org}/{name}" != Repo || rev is not ("main" or Commit) || !files.TryGetValue(path, out var content))
            {
                ctx.Response.StatusCode = 404;
                return;
            }
            ctx.Response.Headers["X-Repo-Commit"] = Commit;
            var etag = ETagOf(path, content);
            if (IsLfs(path))
            {
                ctx.Response.Headers["X-Linked-Etag"] = $"\"{etag}\"";
                ctx.Response.Headers["X-Linked-Size"] = content.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
                ctx.Response.Headers.Location = $"{hub.Endpoint}/cdn/{etag}";
                ctx.Response.StatusCode = 302;
                return;
            }
            ctx.Response.Headers.ETag = $"\"{etag}\"";
            await hub.Serve(ctx, path, content);
        });
        app.MapMethods("/cdn/{etag}", ["GET", "HEAD"], async (HttpContext ctx, string etag) =>
        {
            if (!byEtag.TryGetValue(etag, out var path))
            {
                ctx.Response.StatusCode = 404;
                return;
            }
            ctx.Response.Headers.ETag = $"\"cdn-{etag[..8]}\"";
            await hub.Serve(ctx, path, files[path]);
        });
        await app.StartAsync();
        return hub;
    }

    private async Task Serve(HttpContext ctx, string path, byte[] content)
    {
        long start = 0;
        var range = ctx.Request.Headers.Range.ToString();
        if (range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            start = long.Parse(range["bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
            if (start >= content.Length)
            {
                ctx.Response.StatusCode = 416;
                return;
            }
            ctx.Response.StatusCode = 206;
            ctx.Response.Headers.ContentRange = $"bytes {start}-{content.Length - 1}/{content.Length}";
        }
        ctx.Response.ContentLength = content.Length - start;
        if (HttpMethods.IsHead(ctx.Request.Method)) return;
        var body = content.AsMemory((int)start);
        if (CorruptFile == path)
        {
            var flipped = body.ToArray();
            flipped[^1] ^= 0xFF;
            body = flipped;
        }
        if (_drops.TryRemove(path, out int after) && after < body.Length)
        {
            await ctx.Response.Body.WriteAsync(body[..after]);
            await ctx.Response.Body.FlushAsync();
            ctx.Abort();
            return;
        }
        await ctx.Response.Body.WriteAsync(body);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
