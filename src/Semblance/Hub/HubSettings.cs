// Where the hub cache lives and how to reach the hub, from the same environment variables huggingface_hub reads.
namespace Semblance.Hub;

/// <summary>Cache root, endpoint, token and offline switch; <see cref="FromEnvironment"/> reads HF_* variables.</summary>
public sealed record HubSettings
{
    /// <summary>The hub cache root (the folder holding <c>models--ORG--NAME</c>).</summary>
    public required string CacheRoot { get; init; }

    /// <summary>Base URL of the hub, without a trailing slash.</summary>
    public string Endpoint { get; init; } = "https://huggingface.co";

    /// <summary>Bearer token for private or gated repositories; null for anonymous access.</summary>
    public string? Token { get; init; }

    /// <summary>Never touch the network; only the cache is used.</summary>
    public bool Offline { get; init; }

    /// <summary>
    /// HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub (XDG_CACHE_HOME honoured); HF_ENDPOINT;
    /// HF_TOKEN, else the token file (HF_TOKEN_PATH or HF_HOME/token); HF_HUB_OFFLINE=1/true/yes/on.
    /// </summary>
    public static HubSettings FromEnvironment()
    {
        static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        var home = Env("HF_HOME") ?? Path.Combine(Env("XDG_CACHE_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "huggingface");
        var token = Env("HF_TOKEN");
        if (token is null)
        {
            var tokenPath = Env("HF_TOKEN_PATH") ?? Path.Combine(home, "token");
            if (File.Exists(tokenPath)) token = File.ReadAllText(tokenPath).Trim() is { Length: > 0 } t ? t : null;
        }
        return new HubSettings
        {
            CacheRoot = Env("HF_HUB_CACHE") ?? Path.Combine(home, "hub"),
            Endpoint = (Env("HF_ENDPOINT") ?? "https://huggingface.co").TrimEnd('/'),
            Token = token,
            Offline = Env("HF_HUB_OFFLINE")?.ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE",
        };
    }
}
