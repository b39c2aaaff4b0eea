// HTTP request bodies → the server's whole pipeline (routing, body reading, JSON, validation, batching, search),
// in process through ASP.NET's TestServer. A reply of 500 or more, an exception escaping the pipeline, or an error
// reply that is not the OpenAI error shape is a crash.
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Semblance.Embeddings;
using Semblance.CrossEncoders;
using Semblance.Search;
using Semblance.Server;

namespace Semblance.Fuzz.Targets;

/// <summary>
/// Input: byte 0 picks the route (all eight POST routes), byte 1 the Content-Type header, the rest is the body. Every POST route of the
/// server is reachable; the server runs the default encoder fitted on a few sentences, with a flat index for /search.
/// </summary>
public sealed class HttpBodyTarget : FuzzTarget
{
    private static readonly string[] Routes = ["/v1/embeddings", "/embed", "/embed_all", "/similarity", "/search", "/tokenize", "/rerank", "/v1/generate-similar"];

    private static readonly string?[] ContentTypes =
    [
        "application/json", "application/json; charset=utf-8", "application/json; charset=iso-8859-1", "text/plain",
        null, "application/x-www-form-urlencoded", "application/json; charset=\"UTF-8\"", "application/problem+json",
    ];

    private static readonly Lazy<HttpClient> Client = new(StartServer);

    public override string Name => "http-body";

    public override string Description => "POST body + content type → the server pipeline in process (TestServer); no 5xx";

    public override IEnumerable<byte[]> Seeds() =>
    [
        Request(0, 0, """{"input": ["how do I reset my password", "refund"], "model": "semblance"}"""),
        Request(0, 1, """{"input": "a single string", "encoding_format": "base64", "dimensions": 8}"""),
        Request(1, 0, """{"inputs": ["first text", "second"], "normalize": false, "truncate": true}"""),
        Request(2, 0, """{"inputs": "pool nothing"}"""),
        Request(3, 0, """{"source_sentence": "reset password", "sentences": ["change my password", "opening hours"]}"""),
        Request(3, 0, """{"inputs": {"source_sentence": "a", "sentences": ["b", "c"]}}"""),
        Request(4, 0, """{"query": "forgot my password", "k": 2, "filter": {"lang": "en"}}"""),
        Request(4, 0, """{"queries": ["password", "refund"], "k": 3}"""),
        Request(5, 0, """{"inputs": ["tokenize me", "\u00e9t\u00e9"], "add_special_tokens": true}"""),
        Request(6, 0, """{"query": "q", "texts": ["a", "b"], "raw_scores": true, "return_text": true}"""),
        Request(7, 0, """{"input": ["hello world", "the dog run"], "n": 2, "rank": true, "top_p": 0.9, "seed": 3, "max_new_tokens": 4}"""),
        Request(7, 0, """{"input": "hello", "num_beams": 2, "n": 2, "max_new_tokens": 3}"""),
    ];

    public override void Prepare() => GC.KeepAlive(Client.Value);

    private static byte[] Request(byte route, byte contentType, string body) => [route, contentType, .. Encoding.UTF8.GetBytes(body)];

    public override void Execute(byte[] input, string work)
    {
        if (input.Length < 2) throw new InputFormatException("shorter than the route and content-type bytes");
        string route = Routes[input[0] % Routes.Length];
        string? contentType = ContentTypes[input[1] % ContentTypes.Length];
        using var content = new ByteArrayContent(input, 2, input.Length - 2);
        if (contentType is not null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var response = Client.Value.PostAsync(route, content).GetAwaiter().GetResult();
        int status = (int)response.StatusCode;
        string text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        if (status >= 500) throw new InvalidOperationException($"{route} answered {status}: {Shorten(text)}");
        if (status >= 400)
        {
            // Every error reply is JSON with a message (OpenAI's {"error": {...}} or TEI's {"error", "error_type"}).
            using var doc = JsonDocument.Parse(text);
            if (!doc.RootElement.TryGetProperty("error", out _))
                throw new InvalidOperationException($"{route} answered {status} without an error object: {Shorten(text)}");
        }
        // Not a crash, but a refusal: the runner counts it so.
        if (status >= 400) throw new InputFormatException($"{route}: {status} {Shorten(text)}");
    }

    private static string Shorten(string s) => s.Length <= 300 ? s : s[..300] + "…";

    private static HttpClient StartServer()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"semblance-fuzz-http-{Environment.ProcessId}");
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        // A tiny random BERT (the harness's template) serves every route: embeddings, per-token embeddings, tokenize,
        // search over a flat index, and rerank through the same weights with a one-label classifier head.
        string encoderDir = WriteModel(Path.Combine(dir, "encoder"), Templates.BertConfig(), Templates.BertWeights.Value);
        string rerankerDir = WriteModel(Path.Combine(dir, "reranker"),
            Templates.BertConfig().Replace("[\"BertModel\"]", "[\"BertForSequenceClassification\"],\"id2label\":{\"0\":\"LABEL_0\"}"), ClassifierWeights());
        var encoder = SentenceEncoder.Load(encoderDir, new EncoderOptions { Normalize = true });
        string[] corpus = ["hello world", "the dog run", "café !", "a dog runs", "测 试", "hello the world ."];
        var index = SemanticIndex.Create(new FlatIndex(encoder.Dimension, Metric.Cosine), encoder, encoderDir);
        index.Add(corpus, [.. corpus.Select((_, i) => $"doc-{i}")], [.. corpus.Select((_, i) => i % 2 == 0 ? """{"lang":"en"}""" : null)]);
        var server = EmbeddingServer.Create(encoder, new EmbeddingServerOptions { MaxBodyBytes = 1 << 20 }, index,
            builder => builder.WebHost.UseTestServer());
        server.Reranker = CrossEncoder.Load(rerankerDir);
        string generatorDir = WriteModel(Path.Combine(dir, "generator"),
            Templates.BertConfig().Replace("[\"BertModel\"]", "[\"BertForMaskedLM\"]"), MaskedLmWeights());
        server.Generator = Semblance.Generation.MaskedLanguageModel.Load(generatorDir, threads: 1);
        server.StartAsync().GetAwaiter().GetResult();
        var test = (TestServer)server.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>();
        return test.CreateClient();
    }

    private static string WriteModel(string dir, string config, byte[] weights)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), config);
        File.WriteAllText(Path.Combine(dir, "vocab.txt"), Templates.VocabTxt);
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), weights);
        return dir;
    }

    /// <summary>The template BERT under <c>bert.</c> (a *For… checkpoint's layout) plus the head tensors <paramref name="head"/> adds.</summary>
    private static byte[] WithHead(int seed, Action<Semblance.Models.SafeTensorsWriter> head)
    {
        var model = Semblance.Training.TrainableTransformer.Initialize(Semblance.Models.TransformerConfig.Parse(Templates.BertConfig(), "template"), seed);
        var w = new Semblance.Models.SafeTensorsWriter();
        foreach (var p in model.Parameters) w.Add("bert." + p.Name, p.Shape, p.Data);
        head(w);
        return w.ToBytes();
    }

    /// <summary>A masked-LM head (the decoder tied to the word embeddings, as checkpoints save it).</summary>
    private static byte[] MaskedLmWeights() => WithHead(11, w =>
    {
        var rng = new Random(5);
        float[] Values(int n, float scale) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5) * scale)];
        w.Add("cls.predictions.transform.dense.weight", [8, 8], Values(64, 0.5f));
        w.Add("cls.predictions.transform.dense.bias", [8], Values(8, 0.1f));
        w.Add("cls.predictions.transform.LayerNorm.weight", [8], [.. Enumerable.Repeat(1f, 8)]);
        w.Add("cls.predictions.transform.LayerNorm.bias", [8], new float[8]);
        w.Add("cls.predictions.bias", [Templates.VocabTokens.Length], Values(Templates.VocabTokens.Length, 0.1f));
    });

    /// <summary>A one-label sequence-classification head.</summary>
    private static byte[] ClassifierWeights() => WithHead(7, w =>
    {
        w.Add("classifier.weight", [1, 8], [0.5f, -0.25f, 0.125f, 0.3f, -0.6f, 0.2f, 0.1f, -0.05f]);
        w.Add("classifier.bias", [1], [0.01f]);
    });
}
