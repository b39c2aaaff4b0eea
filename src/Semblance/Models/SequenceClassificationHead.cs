// The sequence-classification heads of BertForSequenceClassification and RoFormerForSequenceClassification, as modules
// on top of the encoder, loaded from the same checkpoint under the head's own prefix (classifier.*).
using Semblance.Embeddings;
using Semblance.Numerics;
using Semblance.Training.Autodiff;

namespace Semblance.Models;

/// <summary>
/// BERT: logits = W_c · pooler_output + b_c, where the pooler is the encoder's dense + tanh on [CLS].
/// RoFormer (<c>RoFormerClassificationHead</c>): logits = W_o · act(W_d · h[CLS] + b_d) + b_o, with act = the config's
/// hidden_act and no pooler. Dropout is the identity at inference. num_labels outputs: one is a regression score
/// (cross-encoder/stsb style), two or more are class logits.
/// </summary>
internal sealed class SequenceClassificationHead
{
    private readonly Linear? _dense;
    private readonly Linear _output;
    private readonly HiddenActivation _activation;

    private SequenceClassificationHead(Linear? dense, Linear output, HiddenActivation activation)
    {
        _dense = dense;
        _output = output;
        _activation = activation;
    }

    public int NumLabels => _output.OutFeatures;

    /// <summary>True when the head reads the encoder's pooler output (BERT); false when it reads the raw [CLS] row (RoFormer).</summary>
    public bool ReadsPooler => _dense is null;

    public IEnumerable<ModelParameter> Parameters => _dense is null ? _output.Parameters : _dense.Parameters.Concat(_output.Parameters);

    /// <summary>True when <paramref name="checkpoint"/> (the checkpoint's root view) holds a classification head.</summary>
    public static bool Present(WeightView checkpoint) =>
        checkpoint.Contains("classifier.weight") || checkpoint.Contains("classifier.out_proj.weight");

    /// <summary>
    /// Loads the head from the checkpoint's root view (names <c>classifier.*</c>) with <paramref name="numLabels"/>
    /// outputs (config's num_labels when null). The weights stay unpacked: call <see cref="Pack"/> before the inference
    /// <see cref="Forward(ITransformerOutput, TokenBatch, Span{float}, Span{float}, ComputeContext)"/>; training reads them on the tape.
    /// </summary>
    public static SequenceClassificationHead Load(WeightView checkpoint, TransformerConfig c, int? numLabels = null)
    {
        var w = checkpoint.Prefix("classifier");
        int labels = numLabels ?? c.NumLabels;
        return c.IsRoFormer
            ? new SequenceClassificationHead(Linear.Load(w.Prefix("dense"), c.HiddenSize, c.HiddenSize), Linear.Load(w.Prefix("out_proj"), labels, c.HiddenSize), c.Activation)
            : new SequenceClassificationHead(null, Linear.Load(w, labels, c.HiddenSize), c.Activation);
    }

    /// <summary>Prepares the inference-only execution (packs the Linear weights).</summary>
    public void Pack()
    {
        _dense?.Pack();
        _output.Pack();
    }

    /// <summary>
    /// The recording execution, as transformers' heads compute it in training: BERT dropout(pooler output) → classifier;
    /// RoFormer dropout(h[CLS]) → dense → act → dropout → out_proj. <paramref name="pooled"/> is the pooler output
    /// (BERT) or the last hidden state (RoFormer). Dropout (hidden_dropout_prob) is keyed per sequence, at sites after the encoder's.
    /// </summary>
    public Tensor Forward(TapePass pass, Tensor pooled)
    {
        var tape = pass.Tape;
        if (_dense is null) return _output.Forward(tape, pass.SequenceDropout(pooled, DropoutSite));
        var cls = tape.Pool(PoolingMode.Cls, null, pooled, pass.Batch.Offsets);
        var hidden = tape.Activation(_dense.Forward(tape, pass.SequenceDropout(cls, DropoutSite)), _activation);
        return _output.Forward(tape, pass.SequenceDropout(hidden, DropoutSite + 1));
    }

    /// <summary>The head's dropout sites, numbered far above the encoder's so their masks never coincide.</summary>
    private const int DropoutSite = 1 << 20;

    /// <summary>
    /// Logits [BatchSize, NumLabels] from the forward pass's output: the pooler output (BERT) or the [CLS] rows of the
    /// last hidden state (RoFormer). <paramref name="scratch"/> holds 2 × BatchSize × hidden floats.
    /// </summary>
    public void Forward(ITransformerOutput output, TokenBatch batch, Span<float> logits, Span<float> scratch, ComputeContext ctx)
    {
        int h = output.HiddenSize, rows = batch.BatchSize;
        if (_dense is null)
        {
            _output.Forward(output.PoolerOutput[..(rows * h)], rows, logits, ctx);
            return;
        }
        var cls = scratch[..(rows * h)];
        var hidden = scratch.Slice(rows * h, rows * h);
        Pooling.PoolRows(PoolingMode.Cls, default, output.LastHiddenState, batch.Offsets, h, cls);
        _dense.Forward(cls, rows, _activation.ToEpilogue(), hidden, ctx);
        _output.Forward(hidden, rows, logits, ctx);
    }
}
