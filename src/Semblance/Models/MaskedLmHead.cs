// The masked-language-model head of BertForMaskedLM / RoFormerForMaskedLM (cls.predictions.*), a module on top of the
// encoder, with its decoder tied to the word embeddings as transformers ties it on load.
using Semblance.Numerics;

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

    private MaskedLmHead(Linear transform, LayerNorm layerNorm, Linear decoder, HiddenActivation activation)
    {
        _transform = transform;
        _layerNorm = layerNorm;
        _decoder = decoder;
        _activation = activation;
    }

    public int VocabSize => _decoder.OutFeatures;

    /// <summary>True when the checkpoint's root view holds an MLM head.</summary>
    public static bool Present(WeightView checkpoint) => checkpoint.Contains("cls.predictions.transform.dense.weight");

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
        var head = new MaskedLmHead(transform, layerNorm, Linear.Of(weight, bias), c.Activation);
        transform.Pack();
        head._decoder.Pack();
        return head;
    }

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
