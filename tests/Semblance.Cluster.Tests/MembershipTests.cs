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
}
