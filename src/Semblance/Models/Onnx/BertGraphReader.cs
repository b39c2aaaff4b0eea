// Recognises a BERT encoder in an ONNX graph and recovers its Hugging Face weights and config from the graph itself.
using System.Globalization;
using System.Text.RegularExpressions;

namespace Semblance.Models.Onnx;

/// <summary>One tensor of the converted checkpoint: Hugging Face name, shape, float32 values ([out, in] for Linear weights).</summary>
internal sealed record ImportedTensor(string Name, int[] Shape, float[] Values);

/// <summary>What a BERT graph holds: the inferred config and the tensors in checkpoint order.</summary>
internal sealed record BertGraphContent(TransformerConfig Config, IReadOnlyList<ImportedTensor> Tensors, bool HasPooler, bool HasTokenTypeInput, string NamePrefix);

/// <summary>
/// Reads a torch.onnx-style export of a Hugging Face BERT: the embedding tables, biases and LayerNorm parameters by
/// their names; each Linear weight as the constant second input of the MatMul whose output is added to the named
/// bias (stored [in, out], transposed here to [out, in]) or as the B input of a Gemm with that bias; heads from the
/// attention Reshape's shape; the activation from the operators between the intermediate and output Linear;
/// LayerNorm ε from LayerNormalization's epsilon or the Add before Sqrt of a decomposed LayerNorm. Anything that does
/// not fit this pattern exactly is an error naming it; nothing is assumed.
/// </summary>
internal sealed partial class BertGraphReader
{
    private const string WordTable = "embeddings.word_embeddings.weight";

    private readonly OnnxGraph _g;
    private readonly string _source;
    private readonly Dictionary<string, OnnxTensor> _constants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OnnxNode> _producer = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<OnnxNode>> _consumers = new(StringComparer.Ordinal);
    private readonly HashSet<OnnxNode> _claimed = [];
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly List<ImportedTensor> _tensors = [];
    private string _prefix = "";

    private BertGraphReader(OnnxGraph g, string source)
    {
        _g = g;
        _source = source;
        foreach (var (name, t) in g.Initializers) _constants[name] = t;
        foreach (var node in g.Nodes)
        {
            foreach (var output in node.Outputs) _producer[output] = node;
            foreach (var input in node.Inputs)
            {
                if (input.Length == 0) continue;
                if (!_consumers.TryGetValue(input, out var list)) _consumers[input] = list = [];
                list.Add(node);
            }
            if (node.OpType == "Constant" && node.Outputs.Count == 1) _constants[node.Output(0)] = ConstantValue(node);
        }
    }

    /// <summary>Reads the graph; <paramref name="padTokenId"/> (from the vocabulary, not the graph) goes into the config.</summary>
    public static BertGraphContent Read(OnnxGraph graph, string source, int? padTokenId) => new BertGraphReader(graph, source).Read(padTokenId);

    private ModelFormatException Error(string message) => new($"{_source}: {message}");

    private BertGraphContent Read(int? padTokenId)
    {
        foreach (var node in _g.Nodes)
            if (node.Domain is not ("" or "ai.onnx"))
                throw Error($"{node.Describe} uses operator {node.Domain}.{node.OpType}; only standard ONNX operators are understood (export without graph optimisation or fusion)");
        if (_g.SparseInitializerCount > 0) throw Error("the graph has sparse initializers, which are not supported");

        var words = _g.Initializers.Keys.Where(n => n.EndsWith(WordTable, StringComparison.Ordinal)).ToList();
        if (words.Count == 0)
            throw Error($"not a BERT-family encoder: no initializer named '{WordTable}' (the graph has {_g.Initializers.Count} initializers{Sample()})");
        if (words.Count > 1) throw Error($"conflicting initializers: {string.Join(", ", words.Select(w => $"'{w}'"))} all look like the word embeddings");
        _prefix = words[0][..^WordTable.Length];
        if (_prefix.Length > 0 && !_prefix.EndsWith('.')) throw Error($"initializer '{words[0]}' is not a module path ending in '{WordTable}'");

        var word = Table(WordTable, null);
        int vocab = checked((int)word.Dims[0]), h = checked((int)word.Dims[1]);
        var position = Table("embeddings.position_embeddings.weight", h);
        var tokenType = Table("embeddings.token_type_embeddings.weight", h);
        CheckPositions();
        bool typeInput = CheckTokenTypes();
        var embeddingNorm = LayerNorm("embeddings.LayerNorm", h);
        double eps = embeddingNorm.Eps;
        string hidden = embeddingNorm.Output;

        int layers = CountLayers();
        int? heads = null, intermediate = null;
        string? activation = null;
        for (int l = 0; l < layers; l++)
        {
            string p = $"encoder.layer.{l}.";
            foreach (var part in new[] { "query", "key", "value" })
            {
                var linear = Linear(p + "attention.self." + part, h, h);
                RequireInput(linear, hidden, p + "attention.self." + part, l == 0 ? "the embeddings' output" : $"layer {l - 1}'s output");
                int found = Heads(linear.Output, p + "attention.self." + part, h);
                if (heads is not null && heads != found)
                    throw Error($"conflicting attention heads: {p}attention.self.{part} is reshaped into {found} heads, earlier projections into {heads}");
                heads = found;
            }
            var attentionDense = Linear(p + "attention.output.dense", h, h);
            var attentionNorm = LayerNorm(p + "attention.output.LayerNorm", h);
            eps = SameEps(eps, attentionNorm, p + "attention.output.LayerNorm");
            RequireResidual(attentionNorm, attentionDense, hidden, p + "attention.output.LayerNorm");
            var bias = Constant(p + "intermediate.dense.bias");
            if (bias.Dims.Length != 1) throw Error($"initializer '{_prefix}{p}intermediate.dense.bias' has shape {bias.Shape}; expected one dimension");
            int ffn = checked((int)bias.Dims[0]);
            if (intermediate is not null && intermediate != ffn)
                throw Error($"conflicting intermediate sizes: layer {l} has {ffn}, earlier layers {intermediate}");
            intermediate = ffn;
            var up = Linear(p + "intermediate.dense", ffn, h);
            RequireInput(up, attentionNorm.Output, p + "intermediate.dense", "the attention block's output");
            var down = Linear(p + "output.dense", h, ffn);
            string act = Activation(up.Output, down.Node, p + "intermediate");
            if (activation is not null && activation != act)
                throw Error($"conflicting activations: layer {l} uses {act}, earlier layers {activation}");
            activation = act;
            var outputNorm = LayerNorm(p + "output.LayerNorm", h);
            eps = SameEps(eps, outputNorm, p + "output.LayerNorm");
            RequireResidual(outputNorm, down, attentionNorm.Output, p + "output.LayerNorm");
            hidden = outputNorm.Output;
        }

        bool pooler = _constants.ContainsKey(_prefix + "pooler.dense.bias") || _constants.ContainsKey(_prefix + "pooler.dense.weight");
        if (pooler)
        {
            var dense = Linear("pooler.dense", h, h);
            if (!Consumers(dense.Output).Any(n => n.OpType == "Tanh"))
                throw Error($"the pooler's dense output '{dense.Output}' is not followed by Tanh; not a BERT pooler");
        }
        CheckNothingLeft();

        var config = new TransformerConfig
        {
            ModelType = "bert",
            Architectures = ["BertModel"],
            VocabSize = vocab,
            HiddenSize = h,
            NumHiddenLayers = layers,
            NumAttentionHeads = heads!.Value,
            IntermediateSize = intermediate!.Value,
            HiddenAct = activation!,
            MaxPositionEmbeddings = checked((int)position.Dims[0]),
            TypeVocabSize = checked((int)tokenType.Dims[0]),
            LayerNormEps = eps,
            PadTokenId = padTokenId,
        };
        return new BertGraphContent(config, _tensors, pooler, typeInput, _prefix);
    }

    private string Sample()
    {
        var names = _g.Initializers.Keys.Take(4).Select(n => $"'{n}'").ToList();
        return names.Count == 0 ? "" : ", e.g. " + string.Join(", ", names);
    }

    private OnnxTensor Constant(string hfName) =>
        _constants.TryGetValue(_prefix + hfName, out var t) ? t : throw Error($"missing initializer '{_prefix}{hfName}'");

    private IReadOnlyList<OnnxNode> Consumers(string value) => _consumers.TryGetValue(value, out var list) ? list : [];

    private OnnxNode? Producer(string value) => _producer.GetValueOrDefault(value);

    private void Emit(string hfName, int[] shape, float[] values, string? sourceName = null)
    {
        _used.Add(sourceName ?? _prefix + hfName);
        _tensors.Add(new ImportedTensor(hfName, shape, values));
    }

    /// <summary>An embedding table [rows, h] (h taken from the word table when <paramref name="h"/> is null).</summary>
    private OnnxTensor Table(string hfName, int? h)
    {
        var t = Constant(hfName);
        if (t.Dims.Length != 2 || !t.IsFloatingPoint || t.Dims[0] <= 0 || t.Dims[1] <= 0 || (h is not null && t.Dims[1] != h))
            throw Error($"initializer '{_prefix}{hfName}' is {OnnxTensor.TypeName(t.DataType)} {t.Shape}; expected a float table [rows, {h?.ToString(CultureInfo.InvariantCulture) ?? "hidden"}]");
        Emit(hfName, [(int)t.Dims[0], (int)t.Dims[1]], t.ToFloats(_source));
        return t;
    }

    private int CountLayers()
    {
        var found = new SortedSet<int>();
        foreach (var name in _g.Initializers.Keys)
        {
            if (!name.StartsWith(_prefix, StringComparison.Ordinal)) continue;
            var m = LayerIndex().Match(name, _prefix.Length);
            if (m.Success && m.Index == _prefix.Length) found.Add(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        }
        if (found.Count == 0) throw Error($"not a BERT-family encoder: no initializers named '{_prefix}encoder.layer.N.*'");
        for (int l = 0; l < found.Count; l++)
            if (!found.Contains(l)) throw Error($"missing initializers of encoder layer {l} (layers {string.Join(", ", found)} are present)");
        return found.Count;
    }

    [GeneratedRegex(@"encoder\.layer\.(\d+)\.")]
    private static partial Regex LayerIndex();

    private sealed record LinearInfo(string Output, OnnxNode Node);

    /// <summary>
    /// Finds the weight of Linear <paramref name="module"/> through its named bias: Add(MatMul(x, W[in,out]), bias),
    /// MatMul(x, Transpose(W[out,in])), or Gemm(x, W, bias). Emits weight [out, in] and bias [out].
    /// </summary>
    private LinearInfo Linear(string module, int outFeatures, int inFeatures)
    {
        string biasName = _prefix + module + ".bias";
        var bias = Constant(module + ".bias");
        if (bias.Dims.Length != 1 || bias.Dims[0] != outFeatures || !bias.IsFloatingPoint)
            throw Error($"initializer '{biasName}' is {OnnxTensor.TypeName(bias.DataType)} {bias.Shape}; expected float [{outFeatures}]");
        var found = new List<(float[] Weight, string WeightName, LinearInfo Info)>();
        foreach (var node in Consumers(biasName))
        {
            if (node.OpType == "Add" && node.Inputs.Count == 2)
            {
                string other = node.Input(0) == biasName ? node.Input(1) : node.Input(0);
                var matmul = Producer(other);
                if (matmul is null || matmul.OpType != "MatMul")
                    throw Error($"the Add of '{biasName}' does not follow a MatMul (its other input comes from {matmul?.Describe ?? "a graph input or constant"}); cannot find the weight of {module}");
                var (w, wName) = Weight(matmul, storedOutIn: false, module, outFeatures, inFeatures);
                found.Add((w, wName, new LinearInfo(node.Output(0), matmul)));
            }
            else if (node.OpType == "Gemm" && node.Inputs.Count == 3 && node.Input(2) == biasName)
            {
                if (node.Float("alpha", 1f) != 1f || node.Float("beta", 1f) != 1f || node.Int("transA", 0) != 0)
                    throw Error($"{node.Describe} (bias '{biasName}') scales or transposes its operands (alpha, beta, transA); not a plain Linear");
                var (w, wName) = Weight(node, storedOutIn: node.Int("transB", 0) != 0, module, outFeatures, inFeatures);
                found.Add((w, wName, new LinearInfo(node.Output(0), node)));
            }
            else
            {
                throw Error($"initializer '{biasName}' is used by {node.Describe}; expected the Add after a MatMul, or a Gemm");
            }
        }
        if (found.Count == 0) throw Error($"initializer '{biasName}' is not used by any node; cannot find the weight of {module}");
        if (found.Skip(1).Any(f => f.WeightName != found[0].WeightName))
            throw Error($"conflicting weights for {module}: {string.Join(", ", found.Select(f => $"'{f.WeightName}'").Distinct())}");
        string named = _prefix + module + ".weight";
        if (_constants.ContainsKey(named) && found[0].WeightName != named)
            throw Error($"conflicting initializers: '{named}' exists, but the graph multiplies {module}'s input by '{found[0].WeightName}'");
        Emit(module + ".weight", [outFeatures, inFeatures], found[0].Weight, found[0].WeightName);
        Emit(module + ".bias", [outFeatures], bias.ToFloats(_source));
        return found[0].Info;
    }

    /// <summary>The constant B input of <paramref name="node"/> (directly or through a 2-D Transpose) as [out, in].</summary>
    private (float[] Weight, string Name) Weight(OnnxNode node, bool storedOutIn, string module, int outFeatures, int inFeatures)
    {
        string name = node.Input(1);
        if (!_constants.ContainsKey(name) && Producer(name) is { OpType: "Transpose" } transpose && _constants.ContainsKey(transpose.Input(0)))
        {
            if (transpose.Attributes.TryGetValue("perm", out var perm) && !perm.Ints.SequenceEqual([1L, 0L]))
                throw Error($"{transpose.Describe} before the weight of {module} has perm [{string.Join(", ", perm.Ints)}]; expected [1, 0]");
            name = transpose.Input(0);
            storedOutIn = !storedOutIn;
        }
        if (!_constants.TryGetValue(name, out var t))
            throw Error($"the weight of {module} ({node.Describe}, input '{node.Input(1)}') is not a constant initializer");
        long[] expected = storedOutIn ? [outFeatures, inFeatures] : [inFeatures, outFeatures];
        if (!t.Dims.SequenceEqual(expected) || !t.IsFloatingPoint)
            throw Error($"initializer '{name}' (weight of {module}) is {OnnxTensor.TypeName(t.DataType)} {t.Shape}; expected float [{string.Join(", ", expected)}]");
        _claimed.Add(node);
        var values = t.ToFloats(_source);
        if (storedOutIn) return (values, name);
        var outIn = new float[values.Length];
        const int Block = 32; // tiles keep both the rows read and the rows written in cache
        for (int i0 = 0; i0 < inFeatures; i0 += Block)
            for (int o0 = 0; o0 < outFeatures; o0 += Block)
                for (int i = i0; i < Math.Min(i0 + Block, inFeatures); i++)
                    for (int o = o0; o < Math.Min(o0 + Block, outFeatures); o++)
                        outIn[o * inFeatures + i] = values[i * outFeatures + o];
        return (outIn, name);
    }

    /// <summary>ε of a LayerNorm, the value it normalises and the value it produces.</summary>
    private sealed record LayerNormInfo(double Eps, string Input, string Output);

    /// <summary>Emits LayerNorm <paramref name="module"/>'s weight and bias and returns its ε, input and output.</summary>
    private LayerNormInfo LayerNorm(string module, int h)
    {
        string weightName = _prefix + module + ".weight", biasName = _prefix + module + ".bias";
        var weight = Constant(module + ".weight");
        var bias = Constant(module + ".bias");
        foreach (var (t, n) in new[] { (weight, weightName), (bias, biasName) })
            if (t.Dims.Length != 1 || t.Dims[0] != h || !t.IsFloatingPoint)
                throw Error($"initializer '{n}' is {OnnxTensor.TypeName(t.DataType)} {t.Shape}; expected float [{h}]");
        var users = Consumers(weightName);
        if (users.Count != 1)
            throw Error($"LayerNorm weight '{weightName}' is used by {Describe(users)}; expected one LayerNormalization or the Mul of a decomposed LayerNorm");
        var node = users[0];
        var info = node.OpType switch
        {
            "LayerNormalization" when node.Inputs.Count >= 3 && node.Input(1) == weightName && node.Input(2) == biasName && node.Int("axis", -1) == -1
                => new LayerNormInfo(Shortest(node.Float("epsilon", 1e-5f)), node.Input(0), node.Output(0)),
            "Mul" => Decomposed(node, module, biasName),
            _ => throw Error($"LayerNorm weight '{weightName}' is used by {node.Describe}; expected LayerNormalization or the Mul of a decomposed LayerNorm"),
        };
        Emit(module + ".weight", [h], weight.ToFloats(_source));
        Emit(module + ".bias", [h], bias.ToFloats(_source));
        return info;
    }

    /// <summary>
    /// (x − mean) / Sqrt(var + ε) · weight + bias as torch exports it: Mul(Div(Sub(x, ReduceMean x), Sqrt(Add(ReduceMean(...), ε))), weight),
    /// then Add bias.
    /// </summary>
    private LayerNormInfo Decomposed(OnnxNode mul, string module, string biasName)
    {
        ModelFormatException NotLayerNorm(string what) =>
            Error($"cannot read LayerNorm {module}: {what}; expected LayerNormalization or Sub/ReduceMean/Sqrt/Add(ε)/Div/Mul/Add");
        string other = mul.Input(0) == _prefix + module + ".weight" ? mul.Input(1) : mul.Input(0);
        var div = Producer(other);
        if (div?.OpType != "Div") throw NotLayerNorm($"its weight multiplies the output of {div?.Describe ?? "no node"}");
        var sub = Producer(div.Input(0));
        if (sub?.OpType != "Sub" || Producer(sub.Input(1)) is not { OpType: "ReduceMean" } mean || mean.Input(0) != sub.Input(0))
            throw NotLayerNorm("the normalised value is not x − ReduceMean(x)");
        var sqrt = Producer(div.Input(1));
        if (sqrt?.OpType != "Sqrt") throw NotLayerNorm($"the divisor comes from {Producer(div.Input(1))?.Describe ?? "no node"}");
        var add = Producer(sqrt.Input(0));
        if (add?.OpType != "Add") throw NotLayerNorm("Sqrt does not take variance + ε");
        int constIndex = _constants.ContainsKey(add.Input(1)) ? 1 : _constants.ContainsKey(add.Input(0)) ? 0 : -1;
        if (constIndex < 0 || Producer(add.Input(1 - constIndex))?.OpType != "ReduceMean")
            throw NotLayerNorm("the Add before Sqrt is not ReduceMean(...) + a constant ε");
        var epsTensor = _constants[add.Input(constIndex)];
        if (epsTensor.ElementCount != 1 || !epsTensor.IsFloatingPoint) throw NotLayerNorm($"ε '{add.Input(constIndex)}' is {epsTensor.Shape}, not a scalar");
        var addBias = Consumers(mul.Output(0)).Where(n => n.OpType == "Add" && n.Inputs.Contains(biasName)).ToList();
        if (addBias.Count != 1) throw NotLayerNorm($"the scaled value is not added to '{biasName}'");
        return new LayerNormInfo(Shortest(epsTensor.ToFloats(_source)[0]), sub.Input(0), addBias[0].Output(0));
    }

    /// <summary>A float32 constant as the shortest decimal that round-trips (1e-12, not 9.9999999600419720e-13).</summary>
    private static double Shortest(float value) => double.Parse(value.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private double SameEps(double expected, LayerNormInfo found, string module) =>
        expected == found.Eps ? expected : throw Error($"conflicting LayerNorm epsilons: {module} uses {found.Eps}, the embeddings {expected}");

    /// <summary>The value a tensor was reshaped from (Reshape, Flatten, Squeeze, Unsqueeze, Identity and inference Dropout move values only).</summary>
    private string Unshaped(string value)
    {
        for (int i = 0; i < 8 && Producer(value) is { OpType: "Reshape" or "Flatten" or "Squeeze" or "Unsqueeze" or "Identity" or "Dropout" } node; i++)
            value = node.Input(0);
        return value;
    }

    /// <summary>Requires <paramref name="linear"/> to read <paramref name="input"/> (possibly reshaped to rows).</summary>
    private void RequireInput(LinearInfo linear, string input, string module, string what)
    {
        if (Unshaped(linear.Node.Input(0)) != Unshaped(input))
            throw Error($"{module} does not read {what} ({linear.Node.Describe} reads '{linear.Node.Input(0)}'); not a BERT layer");
    }

    /// <summary>Post-LN residual: the LayerNorm normalises Add(the Linear's output, the block's input).</summary>
    private void RequireResidual(LayerNormInfo norm, LinearInfo linear, string residual, string module)
    {
        var add = Producer(norm.Input);
        var inputs = add is { OpType: "Add", Inputs.Count: 2 } ? add.Inputs.Select(Unshaped).ToHashSet() : [];
        if (!inputs.SetEquals([Unshaped(linear.Output), Unshaped(residual)]))
            throw Error($"{module} does not normalise the sum of its dense output and the block input (BERT's post-LN residual); found {add?.Describe ?? "no Add"}");
    }

    /// <summary>
    /// The number of heads from the Reshape of a Q/K/V projection to [.., heads, head_dim] (after an optional Reshape
    /// back to [.., hidden] when the Linear ran on flattened rows). Heads must be a constant, or -1 beside a constant
    /// head_dim; a dynamic entry is not read as anything.
    /// </summary>
    private int Heads(string projection, string module, int h)
    {
        for (int step = 0; step < 2; step++)
        {
            var reshapes = Consumers(projection).Where(n => n.OpType == "Reshape" && n.Input(0) == projection).ToList();
            if (reshapes.Count != 1)
                throw Error($"cannot find the attention heads: the output of {module} goes to {Describe(Consumers(projection))}; expected one Reshape to [batch, sequence, heads, head_dim]");
            var reshape = reshapes[0];
            var (tail, _) = EvaluateShape(reshape.Input(1), 0);
            if (step == 0 && tail.Count > 0 && tail[^1] == h)
            {
                projection = reshape.Output(0); // [rows, h] back to [batch, sequence, h]: the head split comes next
                continue;
            }
            long? heads = tail.Count >= 2 ? tail[^2] : null, dim = tail.Count >= 1 ? tail[^1] : null;
            if (heads == -1 && dim > 0 && h % dim == 0) heads = h / dim;
            if (heads > 0 && h % heads == 0 && (dim == -1 || dim == h / heads)) return (int)heads.Value;
            throw Error($"cannot read the attention heads of {module}: {reshape.Describe} reshapes hidden size {h} into [.., {Entry(heads)}, {Entry(dim)}] (? = not a constant)");
        }
        throw Error($"cannot find the attention heads of {module}: no Reshape to [.., heads, head_dim]");
    }

    private static string Entry(long? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "?";

    private static string Describe(IReadOnlyList<OnnxNode> nodes) =>
        nodes.Count == 0 ? "no node" : string.Join(", ", nodes.Select(n => n.Describe));

    /// <summary>
    /// The trailing entries of a 1-D shape value that are known: constants, Concat/Unsqueeze/Cast/Identity of
    /// constants; a dynamic scalar (Gather of a Shape) is a null entry; a part of unknown length cuts the list.
    /// </summary>
    private (List<long?> Tail, bool Complete) EvaluateShape(string value, int depth)
    {
        if (_constants.TryGetValue(value, out var c) && c.IsInteger) return (c.ToInt64s(_source).Select(v => (long?)v).ToList(), true);
        var node = Producer(value);
        if (node is null || depth > 16) return ([], false);
        switch (node.OpType)
        {
            case "Concat":
                var result = new List<long?>();
                bool complete = true;
                foreach (var input in node.Inputs)
                {
                    var (part, partComplete) = EvaluateShape(input, depth + 1);
                    if (!partComplete)
                    {
                        result.Clear();
                        complete = false;
                    }
                    result.AddRange(part);
                }
                return (result, complete);
            case "Cast" or "Identity":
                return EvaluateShape(node.Input(0), depth + 1);
            case "Unsqueeze":
                var inner = Producer(node.Input(0));
                if (_constants.TryGetValue(node.Input(0), out var scalar) && scalar.IsInteger && scalar.ElementCount == 1)
                    return ([scalar.ToInt64s(_source)[0]], true);
                if (inner?.OpType == "Gather" && _constants.TryGetValue(inner.Input(1), out var index) && index.Dims.Length == 0)
                    return ([null], true);
                return ([], false);
            default:
                return ([], false);
        }
    }

    /// <summary>
    /// The activation between the intermediate Linear's output and the output Linear's MatMul, from the operators
    /// (and their constants) on the way: Erf → gelu, Tanh with the cubic term → gelu_new, Relu, Tanh, or ONNX Gelu.
    /// </summary>
    private string Activation(string from, OnnxNode to, string module)
    {
        var region = new List<OnnxNode>();
        var castConstants = new List<OnnxTensor>();
        var seen = new HashSet<OnnxNode>();
        var pending = new Stack<string>();
        pending.Push(to.Input(0));
        bool reached = false;
        while (pending.Count > 0)
        {
            var value = pending.Pop();
            if (value == from)
            {
                reached = true;
                continue;
            }
            if (_constants.ContainsKey(value)) continue;
            var node = Producer(value);
            if (node is null || !seen.Add(node)) continue;
            if (seen.Count > 32) throw Error($"cannot identify the activation of {module}: the path from its dense output to the next Linear is not a short element-wise chain");
            if (node.OpType is "Reshape" or "Flatten" or "Squeeze" or "Unsqueeze" or "Identity")
            {
                pending.Push(node.Input(0)); // moves values only (a Linear run on flattened rows); its shape input is not part of the activation
                continue;
            }
            if (node.OpType is "Cast" or "CastLike" && _constants.TryGetValue(node.Input(0), out var cast) && cast.IsFloatingPoint)
            {
                castConstants.Add(cast); // a constant brought to the activation's type
                continue;
            }
            region.Add(node);
            foreach (var input in node.Inputs) pending.Push(input);
        }
        if (!reached || region.Count == 0)
            throw Error($"cannot identify the activation of {module}: the output Linear does not take an activation of the intermediate Linear's output");
        var ops = region.Select(n => n.OpType).Distinct().OrderBy(o => o, StringComparer.Ordinal).ToList();
        var scalars = region.SelectMany(n => n.Inputs).Where(i => _constants.ContainsKey(i)).Select(i => _constants[i]).Concat(castConstants)
            .Where(t => t.ElementCount == 1 && t.IsFloatingPoint).Select(t => (double)t.ToFloats(_source)[0]).ToList();
        bool Only(params string[] allowed) => ops.All(allowed.Contains);
        bool Close(double a, double b) => Math.Abs(a - b) <= 1e-6 * Math.Max(1, Math.Abs(b));
        bool ScalarsIn(params double[] allowed) => scalars.All(s => allowed.Any(a => Close(s, a)));
        bool Has(double v) => scalars.Any(s => Close(s, v));
        double sqrt2 = Math.Sqrt(2), cubic = 0.044715, sqrt2OverPi = Math.Sqrt(2 / Math.PI);
        if (ops.SequenceEqual(["Gelu"]) && region.Count == 1)
        {
            var approximate = region[0].Attributes.TryGetValue("approximate", out var a) ? a.S : "none";
            if (approximate == "none") return "gelu";
            if (approximate == "tanh") return "gelu_new";
        }
        if (ops.Contains("Erf") && Only("Erf", "Div", "Mul", "Add") && ScalarsIn(sqrt2, 1 / sqrt2, 1, 0.5) && (Has(sqrt2) || Has(1 / sqrt2)))
            return "gelu";
        if (ops.Contains("Tanh") && Only("Tanh", "Pow", "Mul", "Add") && ScalarsIn(0.5, 1, cubic, sqrt2OverPi, 3) && Has(cubic) && Has(sqrt2OverPi))
            return "gelu_new";
        if (region.Count == 1 && ops.SequenceEqual(["Relu"])) return "relu";
        if (region.Count == 1 && ops.SequenceEqual(["Tanh"])) return "tanh";
        throw Error($"unknown activation in {module}: operators {string.Join(", ", ops)} with constants [{string.Join(", ", scalars.Select(s => s.ToString("G6", CultureInfo.InvariantCulture)))}]; understood: gelu (Erf), gelu_new (Tanh with x³), relu, tanh, ONNX Gelu");
    }

    /// <summary>Nodes and constants a value is computed from (at most 64 nodes back).</summary>
    private (List<OnnxNode> Nodes, List<string> Constants, bool ReachesInput) Ancestry(string value)
    {
        var nodes = new List<OnnxNode>();
        var constants = new List<string>();
        bool input = false;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>();
        pending.Push(value);
        while (pending.Count > 0 && nodes.Count < 64)
        {
            var v = pending.Pop();
            if (v.Length == 0 || !seen.Add(v)) continue;
            if (_g.Initializers.ContainsKey(v)) constants.Add(v);
            else if (_producer.TryGetValue(v, out var node))
            {
                nodes.Add(node);
                foreach (var i in node.Inputs) pending.Push(i);
            }
            else if (_g.Inputs.Contains(v)) input = true;
        }
        return (nodes, constants, input);
    }

    /// <summary>
    /// Follows index values back through operators that only select, repeat or reshape them (Cast, Identity, Expand,
    /// Slice, Unsqueeze, Squeeze, Reshape, Flatten; with <paramref name="throughGathers"/> also the data input of
    /// Gather and GatherElements) to where the numbers come from.
    /// </summary>
    private (string Value, List<OnnxNode> Path) IndexSource(string value, bool throughGathers = false)
    {
        var path = new List<OnnxNode>();
        while (!_g.Initializers.ContainsKey(value) && Producer(value) is { } node && path.Count < 32
               && (node.OpType is "Cast" or "Identity" or "Expand" or "Slice" or "Unsqueeze" or "Squeeze" or "Reshape" or "Flatten"
                   || (throughGathers && node.OpType is "Gather" or "GatherElements")))
        {
            path.Add(node);
            value = node.Input(0);
        }
        return (value, path);
    }

    private bool IsZeroConstant(string value) =>
        _constants.TryGetValue(value, out var t) && (t.ElementCount == 0 || (t.IsInteger && t.ToInt64s(_source).All(v => v == 0)));

    /// <summary>BERT's positions are 0, 1, 2, ... per sequence; RoBERTa-style ids from a CumSum of the mask are refused.</summary>
    private void CheckPositions()
    {
        string table = _prefix + "embeddings.position_embeddings.weight";
        var gathers = Consumers(table).ToList();
        if (gathers.Count == 0 || gathers.Any(g => g.OpType != "Gather" || g.Input(0) != table))
            throw Error($"the position table '{table}' is used by {Describe(gathers)}; expected a Gather of position ids");
        foreach (var gather in gathers)
        {
            var (source, path) = IndexSource(gather.Input(1));
            foreach (var slice in path.Where(n => n.OpType == "Slice"))
            {
                var (starts, complete) = slice.Inputs.Count > 1 ? EvaluateShape(slice.Input(1), 0) : ([], false);
                if (!complete || starts.Count == 0 || starts.Any(v => v != 0))
                    throw Error($"position ids are a slice ({slice.Describe}) that may not start at 0; only BERT's 0, 1, 2, ... positions are understood");
            }
            if (_constants.TryGetValue(source, out var constant) && constant.IsInteger)
            {
                var v = constant.ToInt64s(_source);
                for (int i = 0; i < v.Length; i++)
                    if (v[i] != i) throw Error($"position ids constant '{source}' is not 0, 1, 2, ... (entry {i} is {v[i]})");
                _used.Add(source);
                continue;
            }
            var node = Producer(source);
            if (node?.OpType == "Range")
            {
                bool counts = node.Inputs.Count == 3 && EvaluateShape(node.Input(0), 0) is ([0], true) && EvaluateShape(node.Input(2), 0) is ([1], true);
                if (!counts) throw Error($"position ids come from {node.Describe}, which does not count 0, 1, 2, ...");
                continue;
            }
            if (_g.Inputs.Contains(source)) continue; // the caller passes position ids; BERT's are 0, 1, 2, ...
            if (Ancestry(source).Nodes.FirstOrDefault(n => n.OpType == "CumSum") is { } cumsum)
                throw Error($"position ids are computed from the input with {cumsum.Describe} (RoBERTa-style offsets from the mask); only BERT's 0, 1, 2, ... positions are understood");
            throw Error($"position ids come from {node?.Describe ?? $"'{source}'"}; only BERT's 0, 1, 2, ... positions (a constant, a Range or an input) are understood");
        }
    }

    /// <summary>True when token types come from a graph input; otherwise they must be zeros (a zero constant or ConstantOfShape).</summary>
    private bool CheckTokenTypes()
    {
        string table = _prefix + "embeddings.token_type_embeddings.weight";
        var gathers = Consumers(table).ToList();
        if (gathers.Count == 0 || gathers.Any(g => g.OpType != "Gather" || g.Input(0) != table))
            throw Error($"the token type table '{table}' is used by {Describe(gathers)}; expected a Gather of token type ids");
        bool input = false;
        foreach (var gather in gathers)
        {
            if (_g.Inputs.Contains(IndexSource(gather.Input(1)).Value))
            {
                input = true;
                continue;
            }
            // Zeros stay zeros whatever is selected from them (transformers gathers its zero buffer at the position ids).
            var (source, _) = IndexSource(gather.Input(1), throughGathers: true);
            if (_g.Initializers.ContainsKey(source) && IsZeroConstant(source))
            {
                _used.Add(source);
                continue;
            }
            var node = Producer(source);
            if (node?.OpType == "ConstantOfShape")
            {
                var value = node.Attributes.GetValueOrDefault("value")?.T;
                if (value is null || (value.IsInteger && value.ToInt64s(_source).All(v => v == 0)) || (value.IsFloatingPoint && value.ToFloats(_source).All(v => v == 0)))
                    continue;
            }
            if (IsZeroConstant(source)) continue;
            throw Error($"token type ids come from {node?.Describe ?? $"'{source}'"}; expected a graph input or zeros");
        }
        return input;
    }

    /// <summary>Every constant Linear and every named parameter must belong to the encoder: no unexplained heads or tensors.</summary>
    private void CheckNothingLeft()
    {
        foreach (var node in _g.Nodes)
        {
            if (node.OpType is not ("MatMul" or "Gemm") || _claimed.Contains(node)) continue;
            string b = node.Input(1);
            bool constant = _constants.ContainsKey(b) || (Producer(b) is { OpType: "Transpose" } t && _constants.ContainsKey(t.Input(0)));
            if (constant) throw Error($"{node.Describe} multiplies by the constant '{b}', which is not part of a BERT encoder (an extra head?)");
        }
        foreach (var (name, t) in _g.Initializers)
        {
            if (_used.Contains(name)) continue;
            bool parameter = name.EndsWith(".weight", StringComparison.Ordinal) || name.EndsWith(".bias", StringComparison.Ordinal)
                || (t.IsFloatingPoint && t.Dims.Length >= 2);
            if (parameter) throw Error($"initializer '{name}' {t.Shape} is not part of a BERT encoder");
        }
    }

    private static OnnxTensor ConstantValue(OnnxNode node)
    {
        var a = node.Attributes;
        var name = node.Output(0);
        if (a.TryGetValue("value", out var v) && v.T is not null)
        {
            v.T.Name = name;
            return v.T;
        }
        if (a.TryGetValue("value_float", out var f)) return new OnnxTensor { Name = name, DataType = OnnxTensor.Float, FloatData = [f.F] };
        if (a.TryGetValue("value_int", out var i)) return new OnnxTensor { Name = name, DataType = OnnxTensor.Int64, Int64Data = [i.I] };
        if (a.TryGetValue("value_floats", out var fs)) return new OnnxTensor { Name = name, DataType = OnnxTensor.Float, Dims = [fs.Floats.Count], FloatData = fs.Floats };
        if (a.TryGetValue("value_ints", out var ints)) return new OnnxTensor { Name = name, DataType = OnnxTensor.Int64, Dims = [ints.Ints.Count], Int64Data = ints.Ints };
        return new OnnxTensor { Name = name, DataType = 0 };
    }
}
