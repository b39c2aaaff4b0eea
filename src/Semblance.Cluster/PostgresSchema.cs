// PostgreSQL for membership and grain storage: the connection string from a postgres:// URL.
using Npgsql;

namespace Semblance.Cluster;

public static class PostgresSchema
{
    /// <summary>The ADO.NET invariant name the Orleans provider uses for Npgsql.</summary>
    public const string Invariant = "Npgsql";

    /// <summary>postgres://user[:password]@host[:port]/database as an Npgsql connection string.</summary>
    public static string ConnectionString(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            throw new SemblanceException($"--membership: '{url}' is not a postgres://user@host:port/database URL");
        var b = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = uri.AbsolutePath.Trim('/') is { Length: > 0 } db ? Uri.UnescapeDataString(db) : "postgres",
        };
        var user = uri.UserInfo.Split(':', 2);
        if (user[0].Length > 0) b.Username = Uri.UnescapeDataString(user[0]);
        if (user.Length > 1) b.Password = Uri.UnescapeDataString(user[1]);
        return b.ConnectionString;
    }
}
