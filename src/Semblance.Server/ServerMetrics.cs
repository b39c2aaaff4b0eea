// Counters and histograms for /metrics, rendered in Prometheus' text exposition format (version 0.0.4).
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Semblance.Server;

internal sealed class ServerMetrics
{
    private static readonly double[] LatencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] BatchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

    private readonly ConcurrentDictionary<(string Route, int Status), Counter> _requests = new();
    private readonly ConcurrentDictionary<string, Histogram> _latency = new(StringComparer.Ordinal);
    private readonly Histogram _batchInputs = new(BatchBuckets);
    private readonly Histogram _batchTokens = new([16, 64, 256, 1024, 4096, 16384, 65536]);
    private long _tokens, _inputs, _rejected;
    private readonly Func<int> _queueDepth;

    public ServerMetrics(Func<int> queueDepth) => _queueDepth = queueDepth;

    public void RecordRequest(string route, int status, double seconds)
    {
        _requests.GetOrAdd((route, status), _ => new Counter()).Increment();
        _latency.GetOrAdd(route, _ => new Histogram(LatencyBuckets)).Observe(seconds);
    }

    public void RecordBatch(int inputs, long tokens)
    {
        _batchInputs.Observe(inputs);
        _batchTokens.Observe(tokens);
        Interlocked.Add(ref _tokens, tokens);
        Interlocked.Add(ref _inputs, inputs);
    }

    public void RecordRejected() => Interlocked.Increment(ref _rejected);

    public long RequestCount(string route, int status) => _requests.TryGetValue((route, status), out var c) ? c.Value : 0;

    public string Render()
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.Append("# HELP semblance_http_requests_total HTTP requests by route and status code.\n# TYPE semblance_http_requests_total counter\n");
        foreach (var ((route, status), c) in _requests.OrderBy(p => p.Key.Route, StringComparer.Ordinal).ThenBy(p => p.Key.Status))
            sb.Append(inv, $"semblance_http_requests_total{{route=\"{Escape(route)}\",status=\"{status}\"}} {c.Value}\n");
        sb.Append("# HELP semblance_http_request_duration_seconds Time from the request reaching the app to the response being written.\n# TYPE semblance_http_request_duration_seconds histogram\n");
        foreach (var (route, h) in _latency.OrderBy(p => p.Key, StringComparer.Ordinal))
            h.Render(sb, "semblance_http_request_duration_seconds", $"route=\"{Escape(route)}\",");
        sb.Append("# HELP semblance_batch_inputs Texts per dynamic batch.\n# TYPE semblance_batch_inputs histogram\n");
        _batchInputs.Render(sb, "semblance_batch_inputs", "");
        sb.Append("# HELP semblance_batch_tokens Tokens per dynamic batch.\n# TYPE semblance_batch_tokens histogram\n");
        _batchTokens.Render(sb, "semblance_batch_tokens", "");
        sb.Append("# HELP semblance_queue_depth Texts waiting to be encoded.\n# TYPE semblance_queue_depth gauge\n");
        sb.Append(inv, $"semblance_queue_depth {_queueDepth()}\n");
        sb.Append("# HELP semblance_tokens_total Tokens encoded.\n# TYPE semblance_tokens_total counter\n");
        sb.Append(inv, $"semblance_tokens_total {Interlocked.Read(ref _tokens)}\n");
        sb.Append("# HELP semblance_inputs_total Texts encoded.\n# TYPE semblance_inputs_total counter\n");
        sb.Append(inv, $"semblance_inputs_total {Interlocked.Read(ref _inputs)}\n");
        sb.Append("# HELP semblance_queue_rejected_total Requests refused with 429 because the queue was full.\n# TYPE semblance_queue_rejected_total counter\n");
        sb.Append(inv, $"semblance_queue_rejected_total {Interlocked.Read(ref _rejected)}\n");
        return sb.ToString();
    }

    private static string Escape(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    private sealed class Counter
    {
        private long _value;
        public long Value => Interlocked.Read(ref _value);
        public void Increment() => Interlocked.Increment(ref _value);
    }

    private sealed class Histogram(double[] bounds)
    {
        private readonly long[] _counts = new long[bounds.Length + 1];
        private readonly Lock _gate = new();
        private double _sum;
        private long _count;

        public void Observe(double v)
        {
            int i = 0;
            while (i < bounds.Length && v > bounds[i]) i++;
            lock (_gate)
            {
                _counts[i]++;
                _sum += v;
                _count++;
            }
        }

        public void Render(StringBuilder sb, string name, string labels)
        {
            var inv = CultureInfo.InvariantCulture;
            long[] counts;
            double sum;
            long count;
            lock (_gate)
            {
                counts = (long[])_counts.Clone();
                sum = _sum;
                count = _count;
            }
            long cumulative = 0;
            for (int i = 0; i < bounds.Length; i++)
            {
                cumulative += counts[i];
                sb.Append(inv, $"{name}_bucket{{{labels}le=\"{bounds[i].ToString("R", inv)}\"}} {cumulative}\n");
            }
            sb.Append(inv, $"{name}_bucket{{{labels}le=\"+Inf\"}} {count}\n");
            var plain = labels.TrimEnd(',');
            var braces = plain.Length > 0 ? "{" + plain + "}" : "";
            sb.Append(inv, $"{name}_sum{braces} {sum.ToString("R", inv)}\n");
            sb.Append(inv, $"{name}_count{braces} {count}\n");
        }
    }
}
