// Valid inputs the targets start from, generated with Semblance's own writers (so the seeds follow the formats
// exactly), plus the index directory helpers that keep checksums consistent around a mutated payload.
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Semblance.Models;
using Semblance.Search;
using Semblance.Training;

namespace Semblance.Fuzz;

public static class Templates
{
    public static readonly string[] VocabTokens =
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", "café", "cafe", "##s", "the", "a", "##ing", "测", "试", ",", ".", "run", "dog"];

    public static string VocabTxt => string.Join("\n", VocabTokens) + "\n";

    public static string TokenizerJson(bool lowercase = true, string stripAccents = "null") =>
        """
        {"version":"1.0","truncation":null,"padding":null,
         "added_tokens":[{"id":0,"content":"[PAD]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
                         {"id":2,"content":"[CLS]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
         "normalizer":{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":STRIP,"lowercase":LOWER},
         "pre_tokenizer":{"type":"BertPreTokenizer"},
         "post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}}],
           "pair":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}},{"Sequence":{"id":"B","type_id":1}},{"SpecialToken":{"id":"[SEP]","type_id":1}}],
           "special_tokens":{"[CLS]":{"id":"[CLS]","ids":[2],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[3],"tokens":["[SEP]"]}}},
         "decoder":{"type":"WordPiece","prefix":"##","cleanup":true},
         "model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,"vocab":VOCAB}}
        """.Replace("STRIP", stripAccents).Replace("LOWER", lowercase ? "true" : "false")
           .Replace("VOCAB", "{" + string.Join(",", VocabTokens.Select((t, i) => $"\"{t}\":{i}")) + "}");

    public static string BertConfig(int layers = 2) =>
        $$"""{"architectures":["BertModel"],"model_type":"bert","vocab_size":{{VocabTokens.Length}},"hidden_size":8,"num_hidden_layers":{{layers}},"num_attention_heads":2,"intermediate_size":16,"hidden_act":"gelu","hidden_dropout_prob":0.1,"attention_probs_dropout_prob":0.1,"max_position_embeddings":16,"type_vocab_size":2,"initializer_range":0.02,"layer_norm_eps":1e-12,"pad_token_id":0,"position_embedding_type":"absolute"}""";

    public static string RoFormerConfig() =>
        $$"""{"model_type":"roformer","vocab_size":{{VocabTokens.Length}},"embedding_size":8,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":16,"hidden_act":"gelu","max_position_embeddings":32,"type_vocab_size":2,"rotary_value":false}""";

    public static string GruConfig() =>
        $$"""{"model_type":"semblance-gru","vocab_size":{{VocabTokens.Length}},"embedding_size":8,"hidden_size":4,"bidirectional":true,"pooling":"mean","max_length":32}""";

    /// <summary>The safetensors bytes of a randomly initialised model of <paramref name="configJson"/>.</summary>
    public static byte[] Weights(string configJson)
    {
        var config = TransformerConfig.Parse(configJson, "template");
        var model = TrainableTransformer.Initialize(config, 7);
        var w = new SafeTensorsWriter();
        foreach (var p in model.Parameters) w.Add(p.Name, p.Shape, p.Data);
        return w.ToBytes();
    }

    public static readonly Lazy<byte[]> BertWeights = new(() => Weights(BertConfig()));
    public static readonly Lazy<byte[]> RoFormerWeights = new(() => Weights(RoFormerConfig()));

    /// <summary>A few safetensors files: every float dtype, an integer tensor, metadata, an empty tensor.</summary>
    public static IEnumerable<byte[]> SafeTensorsSeeds()
    {
        var rng = new Random(3);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var a = new SafeTensorsWriter();
        a.Metadata["format"] = "pt";
        a.Add("embeddings.weight", [5, 4], Values(20));
        a.Add("bias", [4], Values(4), "F16");
        a.Add("scale", [2, 2], Values(4), "BF16");
        a.Add("empty", [0, 3], []);
        yield return a.ToBytes();
        var b = new SafeTensorsWriter();
        b.Metadata["format"] = "semblance-whitening";
        b.Metadata["format_version"] = "1";
        b.Add("mean", [3], Values(3));
        b.Add("kernel", [3, 2], Values(6));
        yield return b.ToBytes();
        yield return BertWeights.Value;
    }

    /// <summary>A whole file as a .npy with the given shape text and payload.</summary>
    public static byte[] Npy(string descr, string shape, byte[] payload)
    {
        var dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        int total = (10 + dict.Length + 1 + 63) / 64 * 64;
        var header = new byte[total];
        header[0] = 0x93;
        "NUMPY"u8.CopyTo(header.AsSpan(1));
        header[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)(total - 10));
        Encoding.ASCII.GetBytes(dict.PadRight(total - 11) + "\n").CopyTo(header, 10);
        return [.. header, .. payload];
    }

    public static byte[] Floats(params float[] v)
    {
        var b = new byte[v.Length * 4];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(i * 4), v[i]);
        return b;
    }

    // ---- index directories ----

    /// <summary>A saved index as file name → bytes, built once per kind.</summary>
    public static IReadOnlyDictionary<string, byte[]> Index(string kind) => Indexes.Value[kind];

    public const int IndexDimension = 8;

    private static readonly Lazy<Dictionary<string, Dictionary<string, byte[]>>> Indexes = new(() =>
    {
        var result = new Dictionary<string, Dictionary<string, byte[]>>();
        var rng = new Random(11);
        int n = 40, d = IndexDimension;
        var vectors = Enumerable.Range(0, n * d).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var ids = Enumerable.Range(0, n).Select(i => i % 7 == 0 ? $"id-é-{i}" : $"id{i}").ToArray();
        var payloads = Enumerable.Range(0, n).Select(i => i % 3 == 0 ? null : $"text {i}").ToArray();
        foreach (var kind in new[] { "flat", "flat-f16", "flat-int8", "hnsw" })
        {
            using VectorIndex index = kind switch
            {
                "hnsw" => new HnswIndex(d, Metric.L2, new HnswOptions { M = 4, EfConstruction = 16, Seed = 5 }),
                "flat-f16" => new FlatIndex(d, Metric.InnerProduct, FlatEncoding.Float16),
                "flat-int8" => new FlatIndex(d, Metric.Cosine, FlatEncoding.Int8),
                _ => new FlatIndex(d, Metric.Cosine),
            };
            index.Threads = 1;
            index.Add(vectors, ids, payloads);
            index.Remove(["id5"]);
            var dir = Path.Combine(Path.GetTempPath(), "semblance-fuzz-template-" + Guid.NewGuid().ToString("N"));
            try
            {
                index.Save(dir);
                result[kind] = Directory.EnumerateFiles(dir).Where(f => Path.GetFileName(f) != IndexLock.FileName)
                    .ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        return result;
    });

    /// <summary>Writes the files of an index into <paramref name="dir"/>.</summary>
    public static void WriteIndex(string dir, IReadOnlyDictionary<string, byte[]> files)
    {
        foreach (var (name, bytes) in files) File.WriteAllBytes(Path.Combine(dir, name), bytes);
    }

    /// <summary>The data file of <paramref name="role"/> named by the manifest of <paramref name="files"/>.</summary>
    public static string FileOf(IReadOnlyDictionary<string, byte[]> files, string role) =>
        files.Keys.Single(k => k.StartsWith(role + ".", StringComparison.Ordinal) && k.EndsWith(".bin", StringComparison.Ordinal));

    /// <summary>
    /// Replaces the payload of one data file and re-seals everything around it (the file's header length and CRCs,
    /// the manifest's entry and its checksum line), so the damaged payload reaches the decoder instead of failing
    /// the checksum.
    /// </summary>
    public static Dictionary<string, byte[]> WithPayload(IReadOnlyDictionary<string, byte[]> files, string role, byte[] payload)
    {
        var copy = new Dictionary<string, byte[]>(files);
        var name = FileOf(files, role);
        var header = files[name][..IndexDataFile.HeaderBytes];
        uint crc = Crc32C.Compute(payload);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(24), crc);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(28), Crc32C.Compute(header.AsSpan(0, 28)));
        copy[name] = [.. header, .. payload];
        var manifest = JsonNode.Parse(Encoding.UTF8.GetString(files[IndexManifest.FileName]).Split('\n')[0])!.AsObject();
        var entry = manifest["files"]![role]!.AsObject();
        entry["bytes"] = payload.Length;
        entry["crc32c"] = crc.ToString("x8", CultureInfo.InvariantCulture);
        copy[IndexManifest.FileName] = SealManifest(Encoding.UTF8.GetBytes(manifest.ToJsonString()));
        return copy;
    }

    /// <summary>The payload (after the 64-byte header) of a data file.</summary>
    public static byte[] Payload(IReadOnlyDictionary<string, byte[]> files, string role) => files[FileOf(files, role)][IndexDataFile.HeaderBytes..];

    /// <summary>A manifest from its JSON line: the line, '\n', "crc32c " + its checksum, '\n'.</summary>
    public static byte[] SealManifest(ReadOnlySpan<byte> jsonLine)
    {
        int nl = jsonLine.IndexOf((byte)'\n');
        var line = nl < 0 ? jsonLine : jsonLine[..nl];
        return [.. line, .. "\ncrc32c "u8, .. Encoding.ASCII.GetBytes(Crc32C.Compute(line).ToString("x8", CultureInfo.InvariantCulture)), .. "\n"u8];
    }
}
