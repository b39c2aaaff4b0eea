// How silos and clients join a cluster: the membership choice (localhost development clustering, or PostgreSQL
// through the ADO.NET provider) and the grain storage that goes with it.
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Hosting;

namespace Semblance.Cluster;

/// <summary>Where membership (and grain storage) lives: "localhost" or a postgres:// URL.</summary>
public sealed record Membership(string Kind, string? ConnectionString)
{
    public bool IsLocalhost => Kind == "localhost";

    public static Membership Parse(string value)
    {
        if (value == "localhost") return new Membership("localhost", null);
        if (value.StartsWith("postgres://", StringComparison.Ordinal) || value.StartsWith("postgresql://", StringComparison.Ordinal))
            return new Membership("postgres", PostgresSchema.ConnectionString(value));
        throw new SemblanceException($"--membership: expected localhost or postgres://user@host:port/database, got '{value}'");
    }
}

public static class ClusterHosting
{
    public const string StorageName = "semblance";
    public const string ClusterId = "semblance";
    public const string ServiceId = "semblance";

    /// <summary>The default localhost primary silo's port: every localhost silo joins through the primary.</summary>
    public const int PrimaryPort = 11111;

    /// <summary>Configures a silo: membership, storage, endpoints on <paramref name="address"/>, faster failure detection.</summary>
    public static void ConfigureSilo(ISiloBuilder silo, Membership membership, SiloSettings settings, int siloPort, int gatewayPort, IPAddress address, int primaryPort = PrimaryPort)
    {
        if (membership.IsLocalhost)
        {
            silo.UseLocalhostClustering(siloPort, gatewayPort, new IPEndPoint(IPAddress.Loopback, primaryPort), ServiceId, ClusterId);
            silo.AddMemoryGrainStorage(StorageName);
        }
        else
        {
            silo.Configure<ClusterOptions>(o => { o.ClusterId = ClusterId; o.ServiceId = ServiceId; });
            silo.ConfigureEndpoints(address, siloPort, gatewayPort, listenOnAnyHostAddress: false);
            silo.UseAdoNetClustering(o => { o.Invariant = PostgresSchema.Invariant; o.ConnectionString = membership.ConnectionString; });
            silo.AddAdoNetGrainStorage(StorageName, o => { o.Invariant = PostgresSchema.Invariant; o.ConnectionString = membership.ConnectionString; });
        }
        // A killed silo is declared dead after about three missed 2-second probes instead of the default minute.
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = TimeSpan.FromSeconds(2);
            o.NumMissedProbesLimit = 3;
            o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(10);
        });
        AddSemblance(silo, settings);
    }

    /// <summary>What grains of this project need on every silo (also used by in-process test clusters).</summary>
    public static void AddSemblance(ISiloBuilder silo, SiloSettings settings)
    {
        silo.Services.AddSingleton(settings);
        silo.Services.AddSingleton<SiloModel>();
        silo.AddPlacementDirector<ReplicaPlacement, ReplicaPlacementDirector>();
    }

    /// <summary>Configures a client to reach the cluster through the given gateways (localhost) or the membership table.</summary>
    public static void ConfigureClient(IClientBuilder client, Membership membership, int[] gatewayPorts)
    {
        if (membership.IsLocalhost)
            client.UseLocalhostClustering(gatewayPorts, ServiceId, ClusterId);
        else
        {
            client.Configure<ClusterOptions>(o => { o.ClusterId = ClusterId; o.ServiceId = ServiceId; });
            client.UseAdoNetClustering(o => { o.Invariant = PostgresSchema.Invariant; o.ConnectionString = membership.ConnectionString; });
        }
        client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));
        client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(60));
    }

    /// <summary>Starts a client host connected to the cluster; fails with a one-line error when no gateway answers.</summary>
    public static async Task<IHost> ConnectAsync(Membership membership, int[] gatewayPorts, CancellationToken cancellationToken = default)
    {
        var host = Host.CreateDefaultBuilder()
            .ConfigureLogging(l => l.ClearProviders())
            .UseOrleansClient(c => ConfigureClient(c, membership, gatewayPorts))
            .Build();
        try
        {
            await host.StartAsync(cancellationToken);
            return host;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            host.Dispose();
            throw new SemblanceException($"cannot reach the cluster ({membership.Kind}, gateways {string.Join(',', gatewayPorts)}): {e.Message.Split('\n')[0]}");
        }
    }
}
