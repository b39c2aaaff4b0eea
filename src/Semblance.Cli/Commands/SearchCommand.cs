// `semblance search`: k nearest items per query (text encoded with the index's model, or .npy vectors) as JSON lines.
using System.Text.Encodings.Web;
using System.Text.Json;
using Semblance.Embeddings;
using Semblance.IO;
using Semblance.Search;

namespace Semblance.Cli.Commands;

public sealed class SearchCommand : CliCommand
{
    public override string Name => "search";

    public override string Summary => "search an index; one JSON line per query: {\"query\":i,\"hits\":[{\"id\",\"score\",\"text\",\"fields\"?}]}";

    public override IReadOnlyList<OptionSpec> Options =>
    [
        new("--index", "IDX", "index directory"),
        new("--model", "DIR", "model for text queries (default: the model the index was built with; another model is an error)"),
        new("--whitening", "FILE", "with --model: whitening for text queries (default: the one the index was built with)"),
        new("--allow-encoder-mismatch", null, "encode text queries with --model/--whitening even if they are not the index's encoder"),
        new("--query", "TEXT", "one query text"),
        new("--queries", "FILE", "query texts, one per line ('-' = stdin)"),
        new("--query-vectors", "Q.npy", "query vectors [nq, d]"),
        new("-k", "K", "hits per query (default 10; fewer when the index holds fewer items)"),
        new("--ef-search", "E", "HNSW candidate list size (default max(k, 64))"),
        new("--filter", "F=V,...", "only items whose stored field F equals V (JSONL fields; all pairs must match; HNSW: approximate)"),
        new("--geodesic", null, "rank by shortest-path distance over a k-NN graph of the items (GeodesicSimilarity)"),
        new("--graph-k", "N", "with --geodesic: neighbours per item in the graph (default 10)"),
        new("--entry-points", "N", "with --geodesic: nearest items the paths start from (default 8)"),
        new("--rerank", "CE", "re-score the retrieved candidates with this cross-encoder and keep the best k (text queries)"),
        new("--rerank-depth", "N", "with --rerank, or on a CUR index: candidates retrieved per query before re-scoring (default max(k, 50))"),
        new("--threads", "N", "worker threads (default: all CPUs)"),
    ];

    public override int Execute(CommandArgs args, CliIO io)
    {
        var dir = args.Require("--index");
        int k = args.GetInt("-k", 10, 1);
        int ef = args.GetInt("--ef-search", 0, 1);
        int given = (args.Has("--query") ? 1 : 0) + (args.Has("--queries") ? 1 : 0) + (args.Has("--query-vectors") ? 1 : 0);
        if (given != 1) throw new UsageException("give exactly one of --query TEXT, --queries FILE or --query-vectors Q.npy");
        if (!args.Has("--geodesic") && (args.Has("--graph-k") || args.Has("--entry-points")))
            throw new UsageException("--graph-k and --entry-points apply to --geodesic");
        int threads = args.GetInt("--threads", Environment.ProcessorCount, 1);
        if (CrossEncoders.CurIndex.IsCurIndex(dir)) return SearchCur(args, io, dir, k, threads);
        if (args.Has("--rerank-depth") && !args.Has("--rerank")) throw new UsageException("--rerank-depth applies to --rerank CE (or to a CUR index)");
        if (args.Has("--rerank") && (args.Has("--query-vectors") || args.Has("--geodesic")))
            throw new UsageException("--rerank needs text queries (--query or --queries) and plain nearest-neighbour retrieval");
        int depth = args.GetInt("--rerank-depth", Math.Max(k, 50), 1);
        using var index = SemanticIndex.Open(dir, new SemanticIndexOptions { Threads = threads, AllowEncoderMismatch = args.Has("--allow-encoder-mismatch") });
        float[] queries;
        List<string>? texts = null;
        if (args.Get("--query-vectors") is { } qpath)
        {
            if (args.Has("--model") || args.Has("--whitening")) throw new UsageException("--model and --whitening apply to text queries, not to --query-vectors");
            var m = Npy.ReadFloat32(qpath);
            if (m.Columns != index.Vectors.Dimension)
                throw new InputFormatException($"{qpath}: query vectors have dimension {m.Columns} but index {dir} has dimension {index.Vectors.Dimension}");
            queries = m.Data;
        }
        else
        {
            texts = args.Get("--query") is { } one ? [one] : io.ReadLines(args.Get("--queries")).ToList();
            using var queryEncoder = IndexInput.UseGivenEncoder(index, args, new EncoderOptions { Threads = threads });
            queries = index.EncodeQueries(texts);
        }
        if (queries.Length == 0) return 0;
        SearchHit[][] hits;
        if (args.Has("--geodesic"))
        {
            var geo = GeodesicSimilarity.Build(index.Vectors, args.GetInt("--graph-k", 10, 1));
            hits = geo.Search(queries, k, args.GetInt("--entry-points", 8, 1));
        }
        else if (args.Get("--rerank") is { } reranker)
        {
            // Retrieve with the bi-encoder, then re-score the candidates with the cross-encoder (retrieve → rerank).
            var candidates = index.Vectors.SearchBatch(queries, depth, new SearchOptions { EfSearch = Math.Max(ef, depth), Filter = Filter(args) });
            using var ce = CrossEncoders.CrossEncoder.Load(reranker, new CrossEncoders.CrossEncoderOptions { Threads = threads });
            hits = new SearchHit[candidates.Length][];
            for (int q = 0; q < candidates.Length; q++)
            {
                var found = candidates[q];
                if (found.FirstOrDefault(h => h.Text is null) is { } bare)
                    throw new SemblanceException($"{dir}: item '{bare.Id}' has no stored text, so --rerank has nothing to score; build the index from --input text");
                hits[q] = ce.Rank(texts![q], found.Select(h => h.Text!).ToArray(), k)
                    .Select(r => found[r.Index] with { Score = r.Score }).ToArray();
            }
        }
        else hits = index.Vectors.SearchBatch(queries, k, new SearchOptions { EfSearch = ef, Filter = Filter(args) });
        WriteHits(io.Out, hits);
        return 0;
    }

    /// <summary>A CUR index: exact cross-encoder scores against the anchor items, C · pinv(A) · R over all items, the best --rerank-depth re-scored.</summary>
    private static int SearchCur(CommandArgs args, CliIO io, string dir, int k, int threads)
    {
        foreach (var other in new[] { "--query-vectors", "--model", "--whitening", "--ef-search", "--filter", "--geodesic", "--rerank" })
            if (args.Has(other)) throw new UsageException($"{other} does not apply to a CUR index ({dir} scores text queries with its own cross-encoder)");
        int depth = args.GetInt("--rerank-depth", Math.Max(k, 50), 0);
        var texts = args.Get("--query") is { } one ? [one] : io.ReadLines(args.Get("--queries")).ToList();
        using var index = CrossEncoders.CurIndex.Open(dir, new CrossEncoders.CurIndexOptions { Threads = threads, AllowEncoderMismatch = args.Has("--allow-encoder-mismatch") });
        WriteHits(io.Out, [.. texts.Select(q => index.Search(q, k, depth))]);
        return 0;
    }

    /// <summary>--filter FIELD=VALUE[,FIELD=VALUE...]: items whose stored fields equal every value.</summary>
    private static Dictionary<string, string>? Filter(CommandArgs args)
    {
        if (!args.Has("--filter")) return null;
        if (args.Has("--geodesic")) throw new UsageException("--filter does not apply to --geodesic");
        var filter = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in args.GetList("--filter"))
        {
            int eq = pair.IndexOf('=');
            if (eq < 1) throw new UsageException($"--filter: '{pair}' is not FIELD=VALUE");
            filter[pair[..eq]] = pair[(eq + 1)..];
        }
        return filter;
    }

    internal static void WriteHits(TextWriter output, SearchHit[][] hits)
    {
        var buffer = new MemoryStream();
        var options = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        for (int q = 0; q < hits.Length; q++)
        {
            buffer.SetLength(0);
            using (var w = new Utf8JsonWriter(buffer, options))
            {
                w.WriteStartObject();
                w.WriteNumber("query", q);
                SearchHitJson.WriteHits(w, hits[q]);
                w.WriteEndObject();
            }
            output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        }
    }
}
