// Interaction ("cross-encoder") models: both texts in one sequence, one score out, as sentence-transformers' CrossEncoder
// and Hugging Face's *ForSequenceClassification compute it; packed length-sorted batches as the bi-encoder uses.
using System.Collections.Concurrent;
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Numerics;
using Semblance.Text;

namespace Semblance.CrossEncoders;

/// <summary>What is applied to a pair's logits.</summary>
public enum ScoreActivation
{
    /// <summary>The raw logits (Hugging Face's output).</summary>
    None,

    /// <summary>1 / (1 + e^−x) per logit (sentence-transformers' default for one-label models, TEI's non-raw scores).</summary>
    Sigmoid,

    /// <summary>Softmax over a pair's logits (class probabilities).</summary>
    Softmax,
}

/// <summary>Options of <see cref="CrossEncoder.Load"/>; 0 means what the model directory says.</summary>
public sealed record CrossEncoderOptions
{
    /// <summary>Tokens per pair including [CLS] and both [SEP]; 0 = max_seq_length, else the positions, at most 512.</summary>
    public int MaxLength { get; init; }

    public int BatchSize { get; init; } = 32;

    public int Threads { get; init; } = Environment.ProcessorCount;
}

/// <summary>A candidate's place after <see cref="CrossEncoder.Rank"/>: its index in the input, its score, its text.</summary>
public sealed record RankedText(int Index, float Score, string Text);

/// <summary>
/// A BERT or RoFormer checkpoint with a sequence-classification head, scoring sentence pairs:
/// <code>using var ce = CrossEncoder.Load("my-cross-encoder"); float[][] logits = ce.Predict([("a cat", "a kitten")]);</code>
/// </summary>
public sealed class CrossEncoder : IDisposable
{
    private readonly TransformerModel _model;
    private readonly SequenceClassificationHead _head;
    private readonly BertTokenizer _tokenizer;
    private readonly ComputeContext _ctx;
    private readonly int _batchSize;
    private readonly ConcurrentBag<IDisposable> _workspaces = [];
    private readonly ForwardRequest _request;

    private CrossEncoder(ModelDirectory directory, TransformerModel model, SequenceClassificationHead head, BertTokenizer tokenizer, int maxLength, CrossEncoderOptions options)
    {
        Model = directory;
        _model = model;
        _head = head;
        _tokenizer = tokenizer;
        MaxLength = maxLength;
        _batchSize = options.BatchSize;
        _ctx = new ComputeContext(options.Threads);
        _request = new ForwardRequest(Pooler: head.ReadsPooler);
    }

    /// <summary>The model directory and where it came from.</summary>
    public ModelDirectory Model { get; }

    /// <summary>Outputs per pair (config num_labels / id2label).</summary>
    public int NumLabels => _head.NumLabels;

    /// <summary>Label names in id order (empty when the config names none).</summary>
    public IReadOnlyList<string> Labels => _model.Config.Id2Label;

    /// <summary>Tokens per pair; longer pairs are truncated longest-first.</summary>
    public int MaxLength { get; }

    /// <summary>The tokenizer pairs are encoded with (<see cref="BertTokenizer.EncodePair"/>).</summary>
    public BertTokenizer Tokenizer => _tokenizer;

    /// <summary>
    /// Opens a cross-encoder (a directory or hub id): a BERT/RoFormer checkpoint whose weights hold <c>classifier.*</c>.
    /// An encoder checkpoint without that head is a clear error rather than a head invented at random.
    /// </summary>
    public static CrossEncoder Load(string model, CrossEncoderOptions? options = null)
    {
        options ??= new CrossEncoderOptions();
        var directory = ModelDirectory.Open(model);
        if (!TransformerConfig.SupportedModelTypes.Contains(directory.ModelType))
            throw new ModelFormatException($"{directory.Path}: a {directory.ModelType} model is not a cross-encoder; a cross-encoder is a BERT or RoFormer checkpoint with a sequence-classification head (classifier.*)");
        int maxLength = directory.MaxLength(options.MaxLength);
        if (maxLength is > 0 and < 3) throw new SemblanceException($"--max-length {maxLength} leaves no room for [CLS] and two [SEP]");
        var transformer = TransformerLoader.Load(directory.Path, directory.Transformer!);
        try
        {
            if (!SequenceClassificationHead.Present(transformer.Checkpoint))
                throw new ModelFormatException($"{directory.Path}: the checkpoint has no sequence-classification head (no classifier.* weights), so it is a sentence encoder, not a cross-encoder; use it with encode/search, or give a *ForSequenceClassification checkpoint");
            var head = SequenceClassificationHead.Load(transformer.Checkpoint, transformer.Config);
            head.Pack();
            if (head.ReadsPooler && !transformer.HasPooler)
                throw new ModelFormatException($"{directory.Path}: BertForSequenceClassification reads the pooler, but the checkpoint has no pooler.dense weights");
            return new CrossEncoder(directory, transformer, head, directory.LoadTokenizer(), maxLength, options);
        }
        catch
        {
            transformer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Logits (after <paramref name="activation"/>) of each pair, [pairs.Count][NumLabels], in input order. Pairs are
    /// tokenized as <c>[CLS] text [SEP] text_pair [SEP]</c>, sorted by length and packed without padding.
    /// </summary>
    public float[][] Predict(IReadOnlyList<(string Text, string TextPair)> pairs, ScoreActivation activation = ScoreActivation.None, CancellationToken cancellationToken = default)
    {
        int labels = NumLabels;
        var flat = new float[(long)pairs.Count * labels];
        IDisposable? workspace = null;
        float[] scratch = [];
        try
        {
            LengthSortedBatches.Embed(pairs, flat, labels, _batchSize, _ctx, p => _tokenizer.EncodePair(p.Text, p.TextPair, MaxLength), (batch, logits) =>
            {
                if (workspace is null && !_workspaces.TryTake(out workspace)) workspace = _model.CreateWorkspace();
                var output = _model.Forward(batch, _request, workspace, _ctx);
                int need = 2 * batch.BatchSize * _model.HiddenSize;
                if (scratch.Length < need) scratch = new float[need];
                _head.Forward(output, batch, logits, scratch, _ctx);
            }, cancellationToken);
        }
        finally
        {
            if (workspace is not null) _workspaces.Add(workspace);
        }
        var result = new float[pairs.Count][];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = flat.AsSpan(i * labels, labels).ToArray();
            Activate(result[i], activation);
        }
        return result;
    }

    /// <summary>
    /// One relevance score per pair: the logit of a one-label model (sigmoid unless <paramref name="raw"/>), or the
    /// probability of the last label ("positive") of a two-label model. More labels have no single score.
    /// </summary>
    public float[] Score(IReadOnlyList<(string Text, string TextPair)> pairs, bool raw = false, CancellationToken cancellationToken = default)
    {
        if (NumLabels > 2)
            throw new SemblanceException($"{Model.Path}: a {NumLabels}-label cross-encoder has no single relevance score; use pair-score for its class logits");
        var logits = Predict(pairs, NumLabels == 1 ? (raw ? ScoreActivation.None : ScoreActivation.Sigmoid) : ScoreActivation.Softmax, cancellationToken);
        return logits.Select(l => l[^1]).ToArray();
    }

    /// <summary>Scores <paramref name="query"/> against every candidate and returns them best first (the top <paramref name="topK"/>, or all).</summary>
    public RankedText[] Rank(string query, IReadOnlyList<string> candidates, int? topK = null, bool raw = false, CancellationToken cancellationToken = default)
    {
        var scores = Score(candidates.Select(c => (query, c)).ToArray(), raw, cancellationToken);
        return Enumerable.Range(0, candidates.Count)
            .OrderByDescending(i => scores[i]).ThenBy(i => i)
            .Take(topK ?? candidates.Count)
            .Select(i => new RankedText(i, scores[i], candidates[i]))
            .ToArray();
    }

    /// <summary>Applies <paramref name="activation"/> to one pair's logits in place.</summary>
    public static void Activate(Span<float> logits, ScoreActivation activation)
    {
        switch (activation)
        {
            case ScoreActivation.Sigmoid:
                for (int j = 0; j < logits.Length; j++) logits[j] = 1f / (1f + MathF.Exp(-logits[j]));
                break;
            case ScoreActivation.Softmax:
                System.Numerics.Tensors.TensorPrimitives.SoftMax(logits, logits);
                break;
        }
    }

    public void Dispose()
    {
        while (_workspaces.TryTake(out var w)) w.Dispose();
        _model.Dispose();
    }
}
