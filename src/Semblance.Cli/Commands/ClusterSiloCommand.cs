// `semblance cluster silo`: one Orleans silo hosting encoder workers, index shards and coordinators.
using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Semblance.Cluster;

namespace Semblance.Cli.Commands;

public sealed class ClusterSiloCommand : CliCommand
{
    public override string Name => "cluster silo";

    public override string Summary => "run one silo of a Semblance cluster (encoder workers, index shards, coordinators) until stopped";

    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("--membership", "WHERE", "localhost (development clustering; the silo on port 11111 is the primary) or postgres://user@host:port/database"),
        new("--storage", "DIR", "storage every silo shares (index shards, job chunks); created if absent"),
        new("--model", "MODEL", "the encoder every grain of this silo uses, loaded once (default sentence-transformers/all-MiniLM-L6-v2)"),
        new("--port", "N", "silo-to-silo port (default: the primary port)"),
        new("--gateway-port", "N", "client gateway port (default 30000)"),
        new("--primary-port", "N", "with localhost membership: the primary silo's port, which every silo joins through (default 11111)"),
        new("--address", "IP", "address to listen on and advertise (default 127.0.0.1)"),
        new("--threads", "N", "encoder and search threads (default 1)"),
    ];

    /// <summary>The exit code of a silo whose membership store cannot be reached or prepared.</summary>
    public const int ExitMembershipUnreachable = 2;

    public override int Execute(CommandArgs args, CliIO io)
    {
        var membership = ClusterArgs.Membership(args);
        var storage = Path.GetFullPath(args.Require("--storage"));
        int port = args.GetInt("--port", args.GetInt("--primary-port", ClusterHosting.PrimaryPort, 1, 65535), 1, 65535);
        int gateway = args.GetInt("--gateway-port", 30000, 1, 65535);
        int primary = args.GetInt("--primary-port", ClusterHosting.PrimaryPort, 1, 65535);
        if (!IPAddress.TryParse(args.Get("--address") ?? "127.0.0.1", out var address)) throw new UsageException("--address: expected an IP address");
        var settings = new SiloSettings(args.Get("--model") ?? "sentence-transformers/all-MiniLM-L6-v2", storage, args.GetInt("--threads", 1, 1));
        Directory.CreateDirectory(storage);
        if (!membership.IsLocalhost)
        {
            // The membership database must answer before the silo starts; its schema is created when missing.
            try
            {
                if (PostgresSchema.EnsureAsync(membership.ConnectionString!).GetAwaiter().GetResult())
                    io.Err.WriteLine($"created the Orleans schema in {PostgresSchema.Describe(membership.ConnectionString!)}");
            }
            catch (SemblanceException e)
            {
                io.Err.WriteLine($"error: {e.Message}");
                return ExitMembershipUnreachable;
            }
        }
        using var host = Host.CreateDefaultBuilder()
            .ConfigureLogging(l => l.ClearProviders())
            .UseOrleans(silo => ClusterHosting.ConfigureSilo(silo, membership, settings, port, gateway, address, primary))
            .UseConsoleLifetime()
            .Build();
        try
        {
            host.StartAsync().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not SemblanceException)
        {
            throw new SemblanceException($"silo could not join the cluster ({membership.Kind}): {e.Message.Split('\n')[0]}");
        }
        io.Out.WriteLine($"silo ready: address={address} port={port} gateway-port={gateway} membership={membership.Kind} storage={storage}");
        io.Out.Flush();
        host.WaitForShutdownAsync().GetAwaiter().GetResult();
        return 0;
    }
}
