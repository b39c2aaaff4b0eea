// The sequence-classification heads of BertForSequenceClassification and RoFormerForSequenceClassification, as modules
// on top of the encoder, loaded from the same checkpoint under the head's own prefix (classifier.*).
using Semblance.Embeddings;
using Semblance.Numerics;

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

    /// <summary>Loads the head from the checkpoint's root view (names <c>classifier.*</c>); shapes follow config's num_labels.</summary>
    public static SequenceClassificationHead Load(WeightView checkpoint, TransformerConfig c)
    {
        var w = checkpoint.Prefix("classifier");
        var head = c.IsRoFormer
            ? new SequenceClassificationHead(Linear.Load(w.Prefix("dense"), c.HiddenSize, c.HiddenSize), Linear.Load(w.Prefix("out_proj"), c.NumLabels, c.HiddenSize), c.Activation)
            : new SequenceClassificationHead(null, Linear.Load(w, c.NumLabels, c.HiddenSize), c.Activation);
        head._dense?.Pack();
        head._output.Pack();
        return head;
    }

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
