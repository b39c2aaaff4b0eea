// PostgreSQL for membership and grain storage: the connection string from a postgres:// URL, and the schema the
// Orleans ADO.NET providers need, created at start-up when the database lacks it (PostgresSchema.sql, our own DDL).
using System.Reflection;
using Npgsql;

namespace Semblance.Cluster;

public static class PostgresSchema
{
    /// <summary>The ADO.NET invariant name the Orleans provider uses for Npgsql.</summary>
    public const string Invariant = "Npgsql";

    /// <summary>The advisory-lock key silos take while checking and creating the schema ("semblanc" as ASCII).</summary>
    private const long SchemaLock = 0x73656d626c616e63;

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
            Timeout = 10,
        };
        var user = uri.UserInfo.Split(':', 2);
        if (user[0].Length > 0) b.Username = Uri.UnescapeDataString(user[0]);
        if (user.Length > 1) b.Password = Uri.UnescapeDataString(user[1]);
        return b.ConnectionString;
    }

    /// <summary>The connection string as a URL for messages: user, host, port and database, never the password.</summary>
    public static string Describe(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        var user = string.IsNullOrEmpty(b.Username) ? "" : Uri.EscapeDataString(b.Username) + "@";
        return $"postgres://{user}{b.Host}:{b.Port}/{b.Database}";
    }

    /// <summary>The schema script embedded in this assembly.</summary>
    public static string Script()
    {
        using var stream = typeof(PostgresSchema).Assembly.GetManifestResourceStream("Semblance.Cluster.PostgresSchema.sql")
            ?? throw new InvalidOperationException("PostgresSchema.sql is not embedded");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Makes the database ready for the Orleans providers: creates the database when the server lacks it, then the
    /// schema when OrleansQuery is absent, under an advisory lock so silos starting together create it once.
    /// Returns true when this call created the schema. A server that cannot be reached is a one-line error naming the
    /// URL without its password.
    /// </summary>
    public static async Task<bool> EnsureAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        try
        {
            await EnsureDatabaseAsync(connectionString, cancellationToken);
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(cancellationToken);
            await using var tx = await connection.BeginTransactionAsync(cancellationToken);
            await Execute(connection, tx, $"SELECT pg_advisory_xact_lock({SchemaLock})", cancellationToken);
            await using (var check = new NpgsqlCommand("SELECT to_regclass('orleansquery') IS NOT NULL", connection, tx))
                if ((bool)(await check.ExecuteScalarAsync(cancellationToken))!)
                    return false;
            await Execute(connection, tx, Script(), cancellationToken);
            await tx.CommitAsync(cancellationToken);
            return true;
        }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new SemblanceException($"cannot use PostgreSQL at {Describe(connectionString)}: {e.Message.Split('\n')[0].Trim()}");
        }
    }

    private static async Task EnsureDatabaseAsync(string connectionString, CancellationToken cancellationToken)
    {
        try
        {
            await using var probe = new NpgsqlConnection(connectionString);
            await probe.OpenAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidCatalogName)
        {
            // The database does not exist yet: create it from the server's maintenance database.
            var target = new NpgsqlConnectionStringBuilder(connectionString);
            var admin = new NpgsqlConnectionStringBuilder(connectionString) { Database = "postgres", Pooling = false };
            await using var connection = new NpgsqlConnection(admin.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            await Execute(connection, null, $"SELECT pg_advisory_lock({SchemaLock})", cancellationToken);
            await using (var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection))
            {
                exists.Parameters.AddWithValue("name", target.Database!);
                if (await exists.ExecuteScalarAsync(cancellationToken) is null)
                    await Execute(connection, null, $"CREATE DATABASE \"{target.Database!.Replace("\"", "\"\"")}\"", cancellationToken);
            }
            await Execute(connection, null, $"SELECT pg_advisory_unlock({SchemaLock})", cancellationToken);
        }
    }

    private static async Task Execute(NpgsqlConnection connection, NpgsqlTransaction? tx, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, tx);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
