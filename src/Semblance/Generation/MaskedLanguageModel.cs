// A BERT/RoFormer masked-language model: fill-mask as Hugging Face's pipeline does it, and SimBERT-style generation
// (seq2seq inside one encoder under the UniLM mask, predicting the next token from the last position).
using System.Numerics.Tensors;
using System.Text;
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Numerics;
using Semblance.Text;

namespace Semblance.Generation;

/// <summary>The candidates at one [MASK]: token ids and softmax probabilities, best first.</summary>
public sealed record MaskPrediction(int Position, int[] Ids, float[] Scores, string[] Tokens);

/// <summary>Why generation stopped: a [SEP] was produced, or the token budget ran out.</summary>
public enum StopReason { Sep, MaxNewTokens }

/// <summary>A generated continuation: ids without the final [SEP], their text, and why it stopped.</summary>
public sealed record Generation(int[] Ids, string Text, StopReason Stop, bool SourceTruncated);

/// <summary>
/// A checkpoint with a masked-LM head (<c>cls.predictions.*</c>, decoder tied to the word embeddings):
/// <code>using var mlm = MaskedLanguageModel.Load(dir); var g = mlm.GenerateGreedy("how do I reset my password", 24);</code>
/// </summary>
public sealed partial class MaskedLanguageModel : IDisposable
{
    private readonly TransformerModel _model;
    private readonly MaskedLmHead _head;
    private readonly BertTokenizer _tokenizer;
    private readonly ComputeContext _ctx;
    private readonly IDisposable _workspace;
    private readonly int[] _banned;
    private readonly bool _vectorIsPooler;

    private MaskedLanguageModel(ModelDirectory directory, TransformerModel model, MaskedLmHead head, BertTokenizer tokenizer, int threads)
    {
        Model = directory;
        _model = model;
        _head = head;
        _tokenizer = tokenizer;
        _ctx = new ComputeContext(threads);
        // A directory that declares [CLS] pooling (what `train --loss simbert` writes: its contrast trains the [CLS]
        // row, not the start model's pooler) is ranked by that row; otherwise by the pooler when there is one.
        _vectorIsPooler = model.HasPooler && directory.SentenceTransformers.DeclaredPooling(model.HiddenSize) != PoolingMode.Cls;
        _workspace = model.CreateWorkspace();
        _banned = new[] { tokenizer.PadId, tokenizer.UnkId, tokenizer.ClsId, tokenizer.MaskId ?? -1 }.Where(id => id >= 0).Distinct().ToArray();
    }

    public ModelDirectory Model { get; }

    public BertTokenizer Tokenizer => _tokenizer;

    public int VocabSize => _head.VocabSize;

    /// <summary>The longest sequence the model takes (max_position_embeddings).</summary>
    public int MaxPositions => _model.MaxPositions;

    /// <summary>Opens a directory or hub id whose checkpoint holds an MLM head; one without is a clear error.</summary>
    public static MaskedLanguageModel Load(string model, int threads = 0)
    {
        var directory = ModelDirectory.Open(model);
        if (!TransformerConfig.SupportedModelTypes.Contains(directory.ModelType))
            throw new ModelFormatException($"{directory.Path}: a {directory.ModelType} model has no masked-LM head; fill-mask and generate need a BERT or RoFormer *ForMaskedLM checkpoint");
        var transformer = TransformerLoader.Load(directory.Path, directory.Transformer!);
        try
        {
            if (!MaskedLmHead.Present(transformer.Checkpoint))
                throw new ModelFormatException($"{directory.Path}: the checkpoint has no masked-LM head (no cls.predictions.* weights); fill-mask and generate need a *ForMaskedLM checkpoint (SimBERT-style), not a sentence encoder");
            var head = MaskedLmHead.Load(transformer.Checkpoint, TransformerNetwork.Root(transformer.Config, transformer.Weights), transformer.Config, directory.Path);
            return new MaskedLanguageModel(directory, transformer, head, directory.LoadTokenizer(), threads > 0 ? threads : Environment.ProcessorCount);
        }
        catch
        {
            transformer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Raw logits [positions.Length, VocabSize] at <paramref name="positions"/> of one sequence, under bidirectional
    /// attention or (<paramref name="seq2seq"/>) the UniLM mask built from <paramref name="types"/>.
    /// </summary>
    public float[] Logits(int[] ids, int[] types, bool seq2seq, ReadOnlySpan<int> positions)
    {
        var batch = new TokenBatch(ids, types, [0, ids.Length]) { UsesSeq2SeqMask = seq2seq };
        var output = _model.Forward(batch, ForwardRequest.LastOnly, _workspace, _ctx);
        int h = _model.HiddenSize;
        var rows = new float[positions.Length * h];
        for (int i = 0; i < positions.Length; i++)
            output.LastHiddenState.Slice(positions[i] * h, h).CopyTo(rows.AsSpan(i * h, h));
        var logits = new float[positions.Length * VocabSize];
        _head.Forward(rows, positions.Length, logits, _ctx);
        return logits;
    }

    /// <summary>
    /// Hugging Face's fill-mask: the top <paramref name="topK"/> tokens at every [MASK] of <paramref name="text"/>, with
    /// softmax probabilities over the whole vocabulary. Text longer than the model's positions is truncated.
    /// </summary>
    public MaskPrediction[] FillMask(string text, int topK = 5)
    {
        if (topK < 1) throw new SemblanceException($"top-k must be at least 1, got {topK}");
        int mask = _tokenizer.MaskId ?? throw new ModelFormatException($"{Model.Path}: the vocabulary has no [MASK] token");
        var encoded = _tokenizer.Encode(text, Math.Min(_model.MaxPositions, ModelDirectory.DefaultLengthCap));
        var positions = Enumerable.Range(0, encoded.Length).Where(i => encoded.Ids[i] == mask).ToArray();
        if (positions.Length == 0) return [];
        var logits = Logits(encoded.Ids, encoded.TypeIds, seq2seq: false, positions);
        var result = new MaskPrediction[positions.Length];
        int k = Math.Min(topK, VocabSize);
        for (int p = 0; p < positions.Length; p++)
        {
            var row = logits.AsSpan(p * VocabSize, VocabSize);
            TensorPrimitives.SoftMax(row, row);
            var best = TopIds(row, k);
            var scores = new float[best.Length];
            for (int j = 0; j < best.Length; j++) scores[j] = row[best[j]];
            result[p] = new MaskPrediction(positions[p], best, scores, best.Select(id => _tokenizer.Vocabulary[id]).ToArray());
        }
        return result;
    }

    /// <summary>
    /// SimBERT's greedy decoding: the source is <c>[CLS] source [SEP]</c> (type 0); each step appends the argmax of the
    /// last position's logits (type 1) with [PAD], [UNK], [CLS] and [MASK] banned, until [SEP] or
    /// <paramref name="maxNewTokens"/>. A source that leaves no room for the new tokens within the model's positions is
    /// truncated (<see cref="Generation.SourceTruncated"/>). <paramref name="useCache"/> false recomputes the whole
    /// sequence every step instead of one row (the same tokens).
    /// </summary>
    public Generation GenerateGreedy(string source, int maxNewTokens = 24, bool useCache = true)
    {
        var r = Generate([source], new DecodingOptions { Strategy = DecodingStrategy.Greedy, MaxNewTokens = maxNewTokens, UseCache = useCache })[0];
        var c = r.Candidates[0];
        return new Generation(c.Ids, c.Text, c.Stop, r.SourceTruncated);
    }

    /// <summary>Hugging Face's decode for WordPiece: tokens joined by spaces, "##" pieces glued, spaces before punctuation cleaned up.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var sb = new StringBuilder();
        foreach (var id in ids)
        {
            var token = _tokenizer.Vocabulary[id];
            if (token.StartsWith("##", StringComparison.Ordinal)) sb.Append(token.AsSpan(2));
            else
            {
                if (sb.Length > 0) sb.Append(' ');
                sb.Append(token);
            }
        }
        // transformers' clean_up_tokenization (on by default in v4.31).
        return sb.ToString().Replace(" .", ".", StringComparison.Ordinal).Replace(" ?", "?", StringComparison.Ordinal)
            .Replace(" !", "!", StringComparison.Ordinal).Replace(" ,", ",", StringComparison.Ordinal).Replace(" ' ", "'", StringComparison.Ordinal)
            .Replace(" n't", "n't", StringComparison.Ordinal).Replace(" 'm", "'m", StringComparison.Ordinal).Replace(" 's", "'s", StringComparison.Ordinal)
            .Replace(" 've", "'ve", StringComparison.Ordinal).Replace(" 're", "'re", StringComparison.Ordinal);
    }

    /// <summary>The <paramref name="k"/> largest entries' ids, descending (ties: lower id first).</summary>
    private static int[] TopIds(ReadOnlySpan<float> values, int k)
    {
        var best = new List<int>(k + 1);
        for (int i = 0; i < values.Length; i++)
        {
            if (best.Count == k && values[i] <= values[best[^1]]) continue;
            int at = best.Count;
            while (at > 0 && values[i] > values[best[at - 1]]) at--;
            best.Insert(at, i);
            if (best.Count > k) best.RemoveAt(k);
        }
        return [.. best];
    }

    public void Dispose()
    {
        _workspace.Dispose();
        _model.Dispose();
    }
}
