namespace Semblance.Cluster.Tests;

public sealed class MembershipTests
{
    [Fact]
    public void Postgres_urls_become_npgsql_connection_strings()
    {
        var m = Membership.Parse("postgres://orleans:s%40cret@127.0.0.1:5433/cluster");
        Assert.Equal("postgres", m.Kind);
        var b = new Npgsql.NpgsqlConnectionStringBuilder(m.ConnectionString);
        Assert.Equal(("127.0.0.1", 5433, "cluster", "orleans", "s@cret"), (b.Host, b.Port, b.Database, b.Username, b.Password));
        Assert.True(Membership.Parse("localhost").IsLocalhost);
    }

    [Theory]
    [InlineData("redis-cluster")]
    [InlineData("postgres://")]
    [InlineData("")]
    public void Other_membership_values_are_one_line_user_errors(string value)
    {
        var e = Assert.Throws<SemblanceException>(() => Membership.Parse(value));
        Assert.StartsWith("--membership:", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
    [Fact]
    public void The_schema_script_defines_every_query_the_orleans_providers_load()
    {
        var script = PostgresSchema.Script();
        string[] keys =
        [
            "InsertMembershipVersionKey", "InsertMembershipKey", "UpdateMembershipKey", "UpdateIAmAlivetimeKey", "MembershipReadRowKey",
            "MembershipReadAllKey", "GatewaysQueryKey", "DeleteMembershipTableEntriesKey", "CleanupDefunctSiloEntriesKey",
            "ReadFromStorageKey", "WriteToStorageKey", "ClearStorageKey", "DeleteStorageKey",
        ];
        foreach (var key in keys) Assert.Contains($"('{key}', $q$", script);
        Assert.Contains("CREATE TABLE OrleansQuery", script);
    }

    [Fact]
    public async Task An_unreachable_database_is_a_one_line_error_naming_the_url_without_its_password()
    {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        var m = Membership.Parse("postgres://orleans:s3cret@127.0.0.1:1/cluster");
        var e = await Assert.ThrowsAsync<SemblanceException>(() => PostgresSchema.EnsureAsync(m.ConnectionString!));
        Assert.StartsWith("cannot use PostgreSQL at postgres://orleans@127.0.0.1:1/cluster: ", e.Message);
        Assert.DoesNotContain("s3cret", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
