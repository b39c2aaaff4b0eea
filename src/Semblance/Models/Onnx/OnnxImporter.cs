// ONNX weight import: a BERT-family ONNX encoder graph becomes a Hugging Face model directory Semblance loads as is.
using System.Text.Json.Nodes;
using Semblance.Text;

namespace Semblance.Models.Onnx;

/// <summary>What the import needs besides the graph.</summary>
public sealed record OnnxImportOptions
{
    /// <summary>The model's WordPiece vocab.txt as a file path (or use <see cref="VocabularyStream"/>).</summary>
    public string? VocabularyPath { get; init; }

    /// <summary>The vocab.txt content; read to the end, not disposed.</summary>
    public Stream? VocabularyStream { get; init; }

    /// <summary>Written to tokenizer_config.json: lowercase (and strip accents) before WordPiece.</summary>
    public bool DoLowerCase { get; init; } = true;

    /// <summary>
    /// Where tensors stored as ONNX external data are looked up (their <c>location</c> is relative to it); defaults to
    /// the .onnx file's directory when importing from a path, and to none for a stream.
    /// </summary>
    public string? ExternalDataDirectory { get; init; }

    /// <summary>When set, sentence-transformers module files are written too (see <see cref="Embeddings.SentenceTransformersConfig.Write"/>).</summary>
    public Embeddings.PoolingMode? Pooling { get; init; }

    /// <summary>Adds a Normalize module after <see cref="Pooling"/>.</summary>
    public bool Normalize { get; init; }

    /// <summary>sentence_bert_config.json's max_seq_length; 0 = not written (the model's position count applies).</summary>
    public int MaxSeqLength { get; init; }

    /// <summary>
    /// Called with the temporary directory after the model files are written and before it is renamed into place, to
    /// add files (provenance, prompts, ...) atomically with the model; an exception cancels the import.
    /// </summary>
    public Action<string>? WriteExtraFiles { get; init; }
}

/// <summary>
/// The outcome of an import: the inferred config, what the graph held, the ONNX producer_name and the SHA-256 (lower-case
/// hex) of the ONNX bytes read.
/// </summary>
public sealed record OnnxImportResult(
    string OutputDirectory,
    TransformerConfig Config,
    int TensorCount,
    bool HasPooler,
    bool HasTokenTypeInput,
    int VocabularyTokens,
    string Producer,
    string OnnxSha256);

public static class OnnxImporter
{
    /// <summary>Imports the .onnx file at <paramref name="onnxPath"/>; external data is looked up beside it.</summary>
    public static OnnxImportResult Import(string onnxPath, OnnxImportOptions options, string outputDirectory)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!File.Exists(onnxPath)) throw new ModelFormatException($"{onnxPath}: file not found; expected an ONNX model");
        var dir = options.ExternalDataDirectory ?? Path.GetDirectoryName(Path.GetFullPath(onnxPath));
        using var stream = new FileStream(onnxPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Import(stream, onnxPath, options with { ExternalDataDirectory = dir }, outputDirectory);
    }

    /// <summary>
    /// Converts a BERT-family ONNX encoder graph (read from <paramref name="onnx"/>, named <paramref name="sourceName"/>
    /// in errors) into a Hugging Face model directory: config.json inferred from the graph, model.safetensors (F32,
    /// Hugging Face names, Linear weights [out, in]), vocab.txt (line ends normalised to \n) and tokenizer_config.json.
    /// The directory is written beside <paramref name="outputDirectory"/> under a temporary name and renamed into place;
    /// an existing non-empty output directory is refused. Anything not understood is a <see cref="ModelFormatException"/>
    /// and leaves nothing behind.
    /// </summary>
    public static OnnxImportResult Import(Stream onnx, string sourceName, OnnxImportOptions options, string outputDirectory)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        ArgumentNullException.ThrowIfNull(options);
        var output = Path.GetFullPath(outputDirectory);
        if (File.Exists(output)) throw new SemblanceException($"{outputDirectory}: is a file; expected a new or empty directory for the imported model");
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
            throw new SemblanceException($"{outputDirectory}: directory is not empty; the import writes a new model directory");

        if (options.Normalize && options.Pooling is null) throw new SemblanceException("ONNX import: normalisation needs a pooling mode");
        if (options.Pooling is { } pooling) Embeddings.SentenceTransformersConfig.RequireModule(pooling);
        var (vocabText, vocabSource) = ReadVocabulary(options);
        var vocabulary = Vocabulary.FromVocabTxtText(vocabText, vocabSource);
        int? pad = vocabulary.TryGetId("[PAD]", out int padId) ? padId : null;
        var (content, producer, sha256) = ReadGraph(onnx, sourceName, options.ExternalDataDirectory, pad);
        int tensorCount = content.Tensors.Count;
        if (vocabulary.Count > content.Config.VocabSize)
            throw new ModelFormatException($"{vocabSource}: {vocabulary.Count} tokens, more than the {content.Config.VocabSize} rows of the model's word embeddings in {sourceName}");
        var config = content.Config;
        // The written config must be one this engine loads; a graph it cannot run is refused before anything is written.
        TransformerConfig.Parse(config.ToJson(), sourceName + " (inferred config.json)");
        if (options.MaxSeqLength > config.MaxPositionEmbeddings)
            throw new SemblanceException($"max sequence length {options.MaxSeqLength} exceeds the model's {config.MaxPositionEmbeddings} positions");

        var weights = new SafeTensorsWriter();
        weights.Metadata["source"] = "onnx";
        // Each tensor's float copy is let go once the writer has its bytes, so a base-size model is not held three times.
        var pending = new Queue<ImportedTensor>(content.Tensors);
        content = content with { Tensors = [] };
        while (pending.TryDequeue(out var t)) weights.Add(t.Name, t.Shape, t.Values);
        var tokenizerConfig = new JsonObject
        {
            ["tokenizer_class"] = "BertTokenizer",
            ["do_lower_case"] = options.DoLowerCase,
            ["model_max_length"] = config.MaxPositionEmbeddings,
        };
        foreach (var (key, token) in new[] { ("unk_token", "[UNK]"), ("sep_token", "[SEP]"), ("pad_token", "[PAD]"), ("cls_token", "[CLS]"), ("mask_token", "[MASK]") })
            if (vocabulary.TryGetId(token, out _)) tokenizerConfig[key] = token;
        WriteDirectory(output, dir =>
        {
            File.WriteAllText(Path.Combine(dir, TransformerLoader.ConfigFileName), config.ToJson());
            using (var file = new FileStream(Path.Combine(dir, ModelWeights.SingleFileName), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                weights.WriteTo(file);
            File.WriteAllText(Path.Combine(dir, "vocab.txt"), vocabText);
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), tokenizerConfig.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
            if (options.Pooling is not null || options.MaxSeqLength > 0)
                Embeddings.SentenceTransformersConfig.Write(dir, options.Pooling, options.Normalize, options.MaxSeqLength, config.HiddenSize);
            options.WriteExtraFiles?.Invoke(dir);
        });
        return new OnnxImportResult(output, config, tensorCount, content.HasPooler, content.HasTokenTypeInput, vocabulary.Count, producer, sha256);
    }

    /// <summary>
    /// Runs <paramref name="write"/> on a fresh temporary directory beside <paramref name="output"/> and renames it to
    /// <paramref name="output"/> (which must be absent or empty); on failure the temporary directory is removed.
    /// </summary>
    public static void WriteDirectory(string output, Action<string> write)
    {
        output = Path.GetFullPath(output);
        var parent = Path.GetDirectoryName(output.TrimEnd(Path.DirectorySeparatorChar))
            ?? throw new SemblanceException($"{output}: cannot write a model directory at the file-system root");
        bool createdParent = !Directory.Exists(parent);
        Directory.CreateDirectory(parent);
        var temp = Path.Combine(parent, $".{Path.GetFileName(output.TrimEnd(Path.DirectorySeparatorChar))}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(temp);
            write(temp);
            if (Directory.Exists(output))
            {
                if (Directory.EnumerateFileSystemEntries(output).Any())
                    throw new SemblanceException($"{output}: directory is not empty; the import writes a new model directory");
                Directory.Delete(output);
            }
            Directory.Move(temp, output);
        }
        catch
        {
            try
            {
                if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
                if (createdParent && !Directory.EnumerateFileSystemEntries(parent).Any()) Directory.Delete(parent);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Reads and recognises the graph; the ONNX bytes are unreferenced when this returns.</summary>
    private static (BertGraphContent Content, string Producer, string Sha256) ReadGraph(Stream onnx, string sourceName, string? externalDataDirectory, int? padTokenId)
    {
        var bytes = ReadAll(onnx, sourceName);
        var graph = OnnxModelReader.Read(bytes, sourceName, externalDataDirectory);
        return (BertGraphReader.Read(graph, sourceName, padTokenId), graph.Producer, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)));
    }

    private static (string Text, string Source) ReadVocabulary(OnnxImportOptions options)
    {
        if ((options.VocabularyPath is null) == (options.VocabularyStream is null))
            throw new SemblanceException("ONNX import needs the model's vocab.txt: give exactly one of a vocabulary path or stream");
        if (options.VocabularyStream is { } stream) return (Vocabulary.DecodeVocabTxt(ReadAll(stream, "vocab.txt"), "vocab.txt"), "vocab.txt");
        var path = options.VocabularyPath!;
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: file not found; expected the model's vocab.txt");
        return (Vocabulary.DecodeVocabTxt(File.ReadAllBytes(path), path), path);
    }

    private static byte[] ReadAll(Stream stream, string source)
    {
        try
        {
            if (stream.CanSeek)
            {
                long length = stream.Length - stream.Position;
                if (length > Array.MaxLength) throw new ModelFormatException($"{source}: {length} bytes is larger than a single ONNX protobuf can be (2 GB); use external data");
                var bytes = new byte[length];
                stream.ReadExactly(bytes);
                return bytes;
            }
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        }
        catch (EndOfStreamException e)
        {
            throw new ModelFormatException($"{source}: ended early ({e.Message})", e);
        }
    }
}
