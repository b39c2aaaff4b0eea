// A request the server refuses (bad JSON, over a limit, queue full): carries the HTTP status and OpenAI's error fields
// (TEI's error_type is derived from the status).
namespace Semblance.Server;

/// <summary>Written as <c>{"error":{"message","type","param","code"}}</c> under /v1, <c>{"error","error_type"}</c> elsewhere, with <see cref="Status"/>.</summary>
internal sealed class ApiException(int status, string message, string type = "invalid_request_error", string? param = null, string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    /// <summary>Seconds a client should wait before retrying (sent as Retry-After), or 0.</summary>
    public int RetryAfterSeconds { get; init; }

    /// <summary>text-embeddings-inference's error_type for this status: Overloaded, Unhealthy, Backend or Validation.</summary>
    public string TeiErrorType => Status switch
    {
        429 => "Overloaded",
        503 => "Unhealthy",
        >= 500 => "Backend",
        _ => "Validation",
    };

    public static ApiException BadRequest(string message, string? param = null, string? code = null) => new(400, message, "invalid_request_error", param, code);

    public static ApiException TooLarge(string message, string? param = null, string? code = null) => new(413, message, "invalid_request_error", param, code);
}
