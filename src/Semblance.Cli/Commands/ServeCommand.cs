// `semblance serve`: the HTTP API (OpenAI /v1/embeddings, TEI /embed and /similarity, /search, /metrics) until Ctrl-C/SIGTERM.
using System.Globalization;
using Microsoft.Extensions.Logging;
using Semblance.Embeddings;
using Semblance.Search;
using Semblance.Server;

namespace Semblance.Cli.Commands;

public sealed class ServeCommand : CliCommand
{
    public override string Name => "serve";

    public override string Summary => "serve embeddings over HTTP: POST /v1/embeddings (OpenAI), /embed, /similarity (TEI), /search; GET /health, /info, /metrics";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("--model", "DIR|ORG/NAME", "model directory or Hugging Face id (default: the model the --index was built with)"),
        new("--index", "IDX", "index directory for POST /search (queries are encoded as the index records: model, pooling, whitening)"),
        new("--allow-encoder-mismatch", null, "serve --index with a --model/--whitening that is not the index's encoder"),
        new("--urls", "URLS", "addresses to listen on, comma-separated (default http://127.0.0.1:8080)"),
        new("--model-name", "NAME", "name reported as 'model' in responses (default: the --model value)"),
        new("--reranker", "CE", "a cross-encoder served at POST /rerank (TEI's shape)"),
        new("--generator", "MLM", "a masked-LM generator (SimBERT-style) served at POST /v1/generate-similar"),
        EncoderArgs.Pooling, EncoderArgs.Normalize, EncoderArgs.MaxLength, EncoderArgs.BatchSize, EncoderArgs.Threads, EncoderArgs.Precision,
        new("--whitening", "FILE", "apply a whitening file after pooling; 'dimensions' then keeps the leading whitened components"),
        new("--max-batch-tokens", "N", "token budget of one dynamic batch (default 16384)"),
        new("--max-wait-ms", "MS", "how long an idle batcher waits for more requests (default 2)"),
        new("--queue", "N", "texts that may wait to be encoded before requests get 429 (default 4096)"),
        new("--max-inputs", "N", "texts per request (default 2048)"),
        new("--max-chars", "N", "characters per text (default 100000)"),
        new("--max-body", "BYTES", "request body size limit (default 8388608)"),
        new("--cluster", null, "run the forward passes on a Semblance cluster's encoder workers (their --model must be this --model)"),
        new("--cluster-index", "NAME", "with --cluster: answer POST /search from this sharded cluster index (answers name missing_shards)"),
        new("--shard-timeout", "MS", "with --cluster-index: per-shard timeout in milliseconds (default 5000)"),
        .. ClusterArgs.ClientOptions,
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        using var cluster = args.Has("--cluster") ? ClusterArgs.Connect(args) : null;
        var server = CreateServer(args, io, out var model, cluster is null ? null : ClusterArgs.Client(cluster));
        return Run(server, model, io);
    }

    /// <summary>The server the options describe, not yet started (tests start it on a free port).</summary>
    internal static EmbeddingServer CreateServer(CommandArgs args, CliIO io, out string model, Orleans.IClusterClient? cluster = null)
    {
        if (cluster is null && (args.Has("--cluster-index") || args.Has("--shard-timeout") || args.Has("--membership") || args.Has("--gateway-port")))
            throw new UsageException("--cluster-index, --shard-timeout, --membership and --gateway-port need --cluster");
        if (args.Has("--cluster-index") && args.Has("--index")) throw new UsageException("give --index (a local index) or --cluster-index, not both");
        var clusterIndex = args.Get("--cluster-index") is { } name ? ClusterIndexBuildCommand.CheckName(name) : null;
        var defaults = new EmbeddingServerOptions();
        var urls = (args.Get("--urls") ?? "http://127.0.0.1:8080").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(WithScheme).ToArray();
        int maxInputs = args.GetInt("--max-inputs", defaults.MaxInputsPerRequest, 1);
        bool allowMismatch = args.Has("--allow-encoder-mismatch");
        var index = args.Get("--index") is { } indexDir ? SemanticIndex.Open(indexDir, new SemanticIndexOptions { AllowEncoderMismatch = allowMismatch }) : null;
        try
        {
            model = args.Get("--model") ?? index?.Encoder?.Model
                ?? throw new UsageException(index is null ? "missing required option --model" : $"index {args.Get("--index")} stores no model: give --model");
            var options = new EmbeddingServerOptions
            {
                Urls = urls,
                ModelName = args.Get("--model-name") ?? model,
                MaxInputsPerRequest = maxInputs,
                MaxCharsPerInput = args.GetInt("--max-chars", defaults.MaxCharsPerInput, 1),
                QueueCapacity = args.GetInt("--queue", Math.Max(defaults.QueueCapacity, maxInputs), maxInputs),
                MaxBatchTokens = args.GetInt("--max-batch-tokens", defaults.MaxBatchTokens, 1),
                MaxBatchWait = TimeSpan.FromMilliseconds(args.GetDouble("--max-wait-ms", defaults.MaxBatchWait.TotalMilliseconds, 0, 1000)),
                MaxBodyBytes = args.GetInt("--max-body", (int)defaults.MaxBodyBytes, 1024),
                RemoteEncoder = cluster is null ? null : Semblance.Cluster.ClusterServing.Encoder(cluster),
                RemoteSearch = cluster is null || clusterIndex is null ? null
                    : Semblance.Cluster.ClusterServing.Search(cluster, clusterIndex, TimeSpan.FromMilliseconds(args.GetInt("--shard-timeout", 5000, 1))),
            };
            // Without --pooling the index's pooling is served, so /embed and /search agree.
            var encoderOptions = EncoderArgs.Options(args);
            if (encoderOptions.Pooling is null && index?.Encoder?.Pooling is { } pooling) encoderOptions = encoderOptions with { Pooling = pooling };
            var encoder = SentenceEncoder.Load(model, encoderOptions);
            EmbeddingServer server;
            try
            {
                var whitening = args.Get("--whitening");
                if (whitening is not null) encoder.UseWhitening(whitening);
                // /search encodes queries with this encoder; the index checks it is its own and adds its whitening if needed.
                index?.UseEncoder(encoder, model, whitening, allowMismatch);
                // Logs go to stderr so stdout stays clean for scripts.
                // The host's own report of a failed start (a busy port: a stack trace) is left out; Run prints one line.
                server = EmbeddingServer.Create(encoder, options, index, logging => logging
                    .AddConsole(c => c.LogToStandardErrorThreshold = LogLevel.Trace)
                    .AddSimpleConsole(c => c.SingleLine = true)
                    .AddFilter((category, level) => level >= (io.Verbose ? LogLevel.Information : LogLevel.Warning)
                        && !(category ?? "").StartsWith("Microsoft.Extensions.Hosting", StringComparison.Ordinal)));
            }
            catch
            {
                encoder.Dispose();
                throw;
            }
            index = null; // the server owns it now
            if (args.Get("--reranker") is { } reranker)
            {
                try
                {
                    server.Reranker = CrossEncoders.CrossEncoder.Load(reranker, new CrossEncoders.CrossEncoderOptions { Threads = encoderOptions.Threads });
                }
                catch
                {
                    server.DisposeAsync().AsTask().GetAwaiter().GetResult();
                    throw;
                }
            }
            if (args.Get("--generator") is { } generator)
            {
                try
                {
                    server.Generator = Generation.MaskedLanguageModel.Load(generator, encoderOptions.Threads);
                }
                catch
                {
                    server.DisposeAsync().AsTask().GetAwaiter().GetResult();
                    throw;
                }
            }
            return server;
        }
        finally
        {
            index?.Dispose();
        }
    }

    /// <summary>"127.0.0.1:8080" means http://127.0.0.1:8080; a scheme other than http(s) is a usage error.</summary>
    internal static string WithScheme(string url)
    {
        int sep = url.IndexOf("://", StringComparison.Ordinal);
        if (sep < 0) return "http://" + url;
        var scheme = url[..sep];
        if (scheme is not ("http" or "https"))
            throw new UsageException($"--urls: '{url}' has scheme '{scheme}'; expected http:// or https:// (or none, meaning http)");
        return url;
    }

    private static int Run(EmbeddingServer server, string model, CliIO io)
    {
        try
        {
            try
            {
                server.StartAsync().GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is IOException or FormatException or InvalidOperationException or UriFormatException)
            {
                // Kestrel wraps the socket error (e.g. address in use) in an IOException; its message is the one line.
                throw new SemblanceException($"--urls: {e.Message.Split('\n')[0].Trim()}");
            }
            io.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"serving {model} on {string.Join(", ", server.Addresses)} (Ctrl-C to stop)"));
            io.Err.Flush();
            server.WaitForShutdownAsync().GetAwaiter().GetResult();
            io.Err.WriteLine("stopped: in-flight requests drained");
            return 0;
        }
        finally
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
