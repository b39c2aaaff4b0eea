// Cluster commands' bad input that needs no running cluster.
namespace Semblance.Tests.Cli;

public class ClusterCommandTests
{
    [Fact]
    public void A_silo_that_cannot_reach_postgres_exits_2_naming_the_url_without_its_password()
    {
        var storage = Path.Combine(Path.GetTempPath(), $"semblance-silo-{Guid.NewGuid():N}");
        try
        {
            // Port 1 on loopback: nothing listens, so the connection is refused at once.
            var (code, output, err) = CliAppTests.Run("cluster", "silo", "--storage", storage, "--membership", "postgres://orleans:s3cret@127.0.0.1:1/cluster");
            Assert.Equal(2, code);
            Assert.Equal("", output);
            Assert.StartsWith("error: cannot use PostgreSQL at postgres://orleans@127.0.0.1:1/cluster: ", err);
            Assert.DoesNotContain("s3cret", err);
            Assert.Single(err.TrimEnd('\n').Split('\n'));
        }
        finally
        {
            if (Directory.Exists(storage)) Directory.Delete(storage, recursive: true);
        }
    }

    [Fact]
    public void Serve_refuses_cluster_options_without_cluster()
    {
        var (code, _, err) = CliAppTests.Run("serve", "--model", "absent", "--cluster-index", "faq");
        Assert.Equal(2, code);
        Assert.Contains("need --cluster", err);
    }
}
