// A three-silo in-process cluster (Orleans TestingHost) sharing one temp storage directory, deployed once per class.
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.TestingHost;
using Semblance.Tests;

namespace Semblance.Cluster.Tests;

public sealed class ClusterFixture : IAsyncLifetime
{
    public static readonly string Storage = Path.Combine(Path.GetTempPath(), $"semblance-cluster-{Environment.ProcessId}-{Guid.NewGuid():N}");

    /// <summary>The tiny fixture model (only loaded when a test encodes, so the cluster deploys without ../shared too).</summary>
    public static string Model => SharedData.Directory is null ? "absent" : SharedData.FixtureModel("bert-tiny-uncased");

    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Storage);
        var builder = new TestClusterBuilder(3);
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        try { Directory.Delete(Storage, recursive: true); } catch (IOException) { }
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            silo.AddMemoryGrainStorage(ClusterHosting.StorageName);
            ClusterHosting.AddSemblance(silo, new SiloSettings(Model, Storage, Threads: 1));
        }
    }
}
