// AM-Softmax with a learned proxy per class (Wang et al., 2018, "Additive Margin Softmax for Face Verification"), as
// the GRU + AM-Softmax similar-question post applies it: every group of similar sentences is a class.
using Semblance.Training.Autodiff;

namespace Semblance.Training;

/// <summary>
/// One column of sentences, each with its class c_i (the index of its group). The loss owns a proxy matrix
/// W [classes, H] (<see cref="ProxyName"/>), trained with the encoder: logits_ij = s·(cos(e_i, w_j) − m·[j = c_i]),
/// loss = mean_i CE(logits_i, c_i), with e_i and w_j L2-normalised in the forward pass (the post constrains the
/// kernel to unit norm). Defaults s = 30, m = 0.35, the post's. Unlike the in-batch <see cref="AmSoftmaxLoss"/>, every
/// other class is a negative of every sentence, not only the classes that happen to share its batch.
/// </summary>
internal sealed class AmSoftmaxProxyLoss : EmbeddingLoss
{
    public const string ProxyName = "proxies.weight";

    /// <param name="classes">Number of groups (rows of W).</param>
    /// <param name="dimension">Sentence-vector length H.</param>
    /// <param name="seed">Seeds W's initialisation: Glorot-uniform, U(±√(6/(classes + H))), Keras Dense's default.</param>
    public AmSoftmaxProxyLoss(int classes, int dimension, int seed, float margin = 0.35f, float scale = 30f)
    {
        if (classes < 2) throw new SemblanceException($"am-softmax-proxy needs at least two classes (groups), got {classes}");
        if (dimension < 1) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "the sentence-vector dimension must be positive");
        Margin = margin;
        Scale = scale;
        var rng = new Random(seed);
        double limit = Math.Sqrt(6.0 / (classes + dimension));
        var w = new float[(long)classes * dimension];
        for (int i = 0; i < w.Length; i++) w[i] = (float)((rng.NextDouble() * 2 - 1) * limit);
        Proxies = new Parameter(ProxyName, [classes, dimension], w);
    }

    public float Margin { get; }

    public float Scale { get; }

    /// <summary>The class proxies W [classes, H].</summary>
    public Parameter Proxies { get; }

    public override IReadOnlyList<Parameter> Parameters => [Proxies];

    public override string Name => "am-softmax-proxy";

    public override (int Min, int Max) Columns => (1, 1);

    /// <summary><paramref name="scores"/> carries each row's class index (the Classes training format).</summary>
    public override LossValue Compute(Tape tape, IReadOnlyList<Tensor> columns, float[]? scores)
    {
        CheckColumns(columns);
        int n = columns[0].Rows, classes = Proxies.Rows;
        if (scores is null || scores.Length != n) throw new ArgumentException($"{Name} needs one class index per row", nameof(scores));
        var labels = new int[n];
        var shift = new float[n * classes];
        for (int i = 0; i < n; i++)
        {
            labels[i] = (int)scores[i];
            if (labels[i] != scores[i] || labels[i] < 0 || labels[i] >= classes)
                throw new ArgumentException($"{Name}: row {i} has class {scores[i]}, expected an integer in 0..{classes - 1}", nameof(scores));
            shift[i * classes + labels[i]] = -Margin;
        }
        var cos = CosineMatrix(tape, columns[0], Proxies);
        var logits = tape.Scale(tape.Add(cos, Tensor.Constant(shift, n, classes)), Scale);
        var loss = tape.CrossEntropy(logits, labels);
        return new LossValue(loss, loss.Item);
    }
}
