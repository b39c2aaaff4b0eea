// A request the server refuses (bad JSON, over a limit, queue full): carries the HTTP status and OpenAI's error fields.
namespace Semblance.Server;

/// <summary>Written as <c>{"error":{"message","type","param","code"}}</c> with <see cref="Status"/>.</summary>
internal sealed class ApiException(int status, string message, string type = "invalid_request_error", string? param = null, string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    /// <summary>Seconds a client should wait before retrying (sent as Retry-After), or 0.</summary>
    public int RetryAfterSeconds { get; init; }

    public static ApiException BadRequest(string message, string? param = null, string? code = null) => new(400, message, "invalid_request_error", param, code);

    public static ApiException TooLarge(string message, string? param = null, string? code = null) => new(413, message, "invalid_request_error", param, code);
}
