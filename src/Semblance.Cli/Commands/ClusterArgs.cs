// Options every cluster client command shares: how to reach the cluster.
using Semblance.Cluster;

namespace Semblance.Cli.Commands;

internal static class ClusterArgs
{
    public static readonly OptionSpec[] ClientOptions =
    [
        new("--membership", "WHERE", "localhost (development clustering) or postgres://user@host:port/database (default localhost)"),
        new("--gateway-port", "PORTS", "with localhost membership: the silos' gateway ports, comma-separated (default 30000)"),
    ];

    public static Membership Membership(CommandArgs args) => Semblance.Cluster.Membership.Parse(args.Get("--membership") ?? "localhost");

    public static int[] GatewayPorts(CommandArgs args)
    {
        var value = args.Get("--gateway-port") ?? "30000";
        var ports = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => int.TryParse(p, System.Globalization.CultureInfo.InvariantCulture, out int n) && n is > 0 and < 65536 ? n : -1).ToArray();
        if (ports.Length == 0 || ports.Contains(-1)) throw new UsageException($"--gateway-port: expected port numbers separated by commas, got '{value}'");
        return ports;
    }

    /// <summary>A client host connected to the cluster the options name (for a long-lived client such as the server).</summary>
    public static Microsoft.Extensions.Hosting.IHost Connect(CommandArgs args)
    {
        var membership = Membership(args);
        var ports = GatewayPorts(args);
        return Task.Run(() => ClusterHosting.ConnectAsync(membership, ports)).GetAwaiter().GetResult();
    }

    public static Orleans.IClusterClient Client(Microsoft.Extensions.Hosting.IHost host) =>
        (Orleans.IClusterClient)host.Services.GetService(typeof(Orleans.IClusterClient))!;

    /// <summary>Runs <paramref name="work"/> with a client connected to the cluster named by the options.</summary>
    public static T WithClient<T>(CommandArgs args, Func<Orleans.IClusterClient, Task<T>> work)
    {
        var membership = Membership(args);
        var ports = GatewayPorts(args);
        return Task.Run(async () =>
        {
            using var host = await ClusterHosting.ConnectAsync(membership, ports);
            var client = Client(host);
            try
            {
                return await work(client);
            }
            catch (Exception e) when (e is not SemblanceException and not UsageException and not OperationCanceledException)
            {
                // Errors raised in a grain arrive as the runtime transports them: keep the one-line message.
                throw new SemblanceException(e.Message.Split('\n')[0].Trim());
            }
            finally
            {
                await host.StopAsync();
            }
        }).GetAwaiter().GetResult();
    }
}
