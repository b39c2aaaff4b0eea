// The masked-language-model head of BertForMaskedLM / RoFormerForMaskedLM (cls.predictions.*), a module on top of the
// encoder, with its decoder tied to the word embeddings as transformers ties it on load.
using Semblance.Numerics;
using Semblance.Training.Autodiff;

namespace Semblance.Models;

/// <summary>
/// t = LayerNorm(act(W_t · h + b_t)) (act = hidden_act; RoFormer maps hidden_size → embedding_size), then
/// logits = t · Eᵀ + bias with E the word-embedding matrix [vocab, E]. A checkpoint that stores
/// <c>cls.predictions.decoder.weight</c> uses it; one without a head is refused, never given a random one.
/// </summary>
internal sealed class MaskedLmHead
{
    private readonly Linear _transform;
    private readonly LayerNorm _layerNorm;
    private readonly Linear _decoder;
    private readonly HiddenActivation _activation;
    private readonly ModelParameter _decoderWeight;
    private readonly ModelParameter _bias;
    private readonly bool _tied;

    private MaskedLmHead(Linear transform, LayerNorm layerNorm, ModelParameter decoderWeight, ModelParameter bias, bool tied, HiddenActivation activation)
    {
        _transform = transform;
        _layerNorm = layerNorm;
        _decoder = Linear.Of(decoderWeight, bias);
        _decoderWeight = decoderWeight;
        _bias = bias;
        _tied = tied;
        _activation = activation;
    }

    /// <summary>The head's own tensors in state_dict order (the tied decoder weight is the embeddings', not listed again).</summary>
    public IEnumerable<ModelParameter> Parameters
    {
        get
        {
            var own = _transform.Parameters.Concat(_layerNorm.Parameters);
            if (!_tied) own = own.Append(_decoderWeight);
            return own.Append(_bias);
        }
    }

    public int VocabSize => _decoder.OutFeatures;

    /// <summary>The head's weight names start with this (Hugging Face's <c>cls.predictions.*</c>), also as trained parameters.</summary>
    public const string Prefix = "cls.predictions.";

    /// <summary>True when the checkpoint's root view holds an MLM head.</summary>
    public static bool Present(WeightView checkpoint) => checkpoint.Contains(Prefix + "transform.dense.weight");

    /// <summary>Loads the head from the checkpoint root; <paramref name="encoderRoot"/> is where the encoder's names resolve (for the tied embeddings).</summary>
    public static MaskedLmHead Load(WeightView checkpoint, WeightView encoderRoot, TransformerConfig c, string source)
    {
        var p = checkpoint.Prefix("cls").Prefix("predictions");
        int e = c.IsRoFormer ? c.EmbeddingSize : c.HiddenSize;
        var transform = Linear.Load(p.Prefix("transform").Prefix("dense"), e, c.HiddenSize);
        var layerNorm = LayerNorm.Load(p.Prefix("transform").Prefix("LayerNorm"), e, c.LayerNormEps);
        var weight = p.Contains("decoder.weight")
            ? ModelParameter.Load(p, "decoder.weight", c.VocabSize, e)
            : ModelParameter.Load(encoderRoot.Prefix("embeddings"), "word_embeddings.weight", c.VocabSize, e);
        var bias = p.Contains("bias") ? ModelParameter.Load(p, "bias", c.VocabSize)
            : p.Contains("decoder.bias") ? ModelParameter.Load(p, "decoder.bias", c.VocabSize)
            : throw new ModelFormatException($"{source}: the masked-LM head has no output bias (cls.predictions.bias or cls.predictions.decoder.bias)");
        var head = new MaskedLmHead(transform, layerNorm, weight, bias, tied: !p.Contains("decoder.weight"), c.Activation);
        transform.Pack();
        head._decoder.Pack();
        return head;
    }

    /// <summary>
    /// The head for training, its decoder tied to <paramref name="wordEmbeddings"/> (the network's own parameter, so
    /// both uses add to one gradient). <paramref name="checkpoint"/> is a checkpoint root holding the head, or a fresh
    /// tensor source, which draws the transform as transformers' <c>_init_weights</c> does (dense ~ N(0, range²),
    /// bias 0, LayerNorm 1/0) and the output bias as zeros.
    /// </summary>
    public static MaskedLmHead LoadTied(WeightView checkpoint, ModelParameter wordEmbeddings, TransformerConfig c)
    {
        var p = checkpoint.Prefix("cls").Prefix("predictions");
        int e = wordEmbeddings.Shape[1];
        var transform = Linear.Load(p.Prefix("transform").Prefix("dense"), e, c.HiddenSize);
        var layerNorm = LayerNorm.Load(p.Prefix("transform").Prefix("LayerNorm"), e, c.LayerNormEps);
        var bias = !p.Contains("bias") && p.Contains("decoder.bias") ? ModelParameter.Load(p, "decoder.bias", c.VocabSize)
            : ModelParameter.Load(p, "bias", c.VocabSize);
        return new MaskedLmHead(transform, layerNorm, wordEmbeddings, bias, tied: true, c.Activation);
    }

    /// <summary>The recording execution: logits [rows, VocabSize] for hidden rows [rows, hidden].</summary>
    public Tensor Forward(Tape tape, Tensor hidden) =>
        _decoder.Forward(tape, _layerNorm.Forward(tape, tape.Activation(_transform.Forward(tape, hidden), _activation)));

    /// <summary>Logits [rows, VocabSize] for <paramref name="rows"/> rows of last hidden states [rows, hidden].</summary>
    public void Forward(ReadOnlySpan<float> hidden, int rows, Span<float> logits, ComputeContext ctx)
    {
        var dense = new float[rows * _layerNorm.Size];
        var t = new float[rows * _layerNorm.Size];
        _transform.Forward(hidden, rows, _activation.ToEpilogue(), dense, ctx);
        _layerNorm.Forward(dense, t, rows, ctx);
        _decoder.Forward(t, rows, logits, ctx);
    }
}
