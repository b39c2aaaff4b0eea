// A plain float64 BERT/RoFormer, written from the formulas for tests: it checks the engine on configurations the HF fixtures lack.
using System.Text.Json.Nodes;
using MathNet.Numerics;

namespace Semblance.Tests.Models;

/// <summary>
/// One sequence at a time, no packing, no fused QKV, no workspace: deliberately the most direct reading of
/// transformers' BertModel / RoFormerModel so it shares no code and no layout decisions with the engine.
/// </summary>
internal sealed class ReferenceEncoder
{
    private readonly Dictionary<string, float[]> _w;
    private readonly JsonObject _config;
    private readonly bool _roformer;
    private readonly int _h, _heads, _layers, _e;
    private readonly double _eps;
    private readonly string _act;

    public ReferenceEncoder(Checkpoint checkpoint)
    {
        _w = checkpoint.Tensors.ToDictionary(t => t.Name, t => t.Values);
        _config = checkpoint.Config;
        _roformer = (string?)_config["model_type"] == "roformer";
        _h = (int)_config["hidden_size"]!;
        _heads = (int)_config["num_attention_heads"]!;
        _layers = (int)_config["num_hidden_layers"]!;
        _e = _roformer && _config["embedding_size"] is { } e ? (int)e : _h;
        _eps = (double)_config["layer_norm_eps"]!;
        _act = (string)_config["hidden_act"]!;
    }

    /// <summary>Hidden states 0..L, each [T·H], and the pooler output when the checkpoint has one.</summary>
    public (double[][] Hidden, double[]? Pooler) Run(int[] ids, int[] types)
    {
        int t = ids.Length;
        var x = new double[t * _e];
        for (int i = 0; i < t; i++)
            for (int j = 0; j < _e; j++)
            {
                double v = W("embeddings.word_embeddings.weight")[ids[i] * _e + j] + W("embeddings.token_type_embeddings.weight")[types[i] * _e + j];
                if (!_roformer) v += W("embeddings.position_embeddings.weight")[i * _e + j];
                x[i * _e + j] = v;
            }
        x = Norm(x, t, _e, "embeddings.LayerNorm");
        if (_e != _h) x = Dense(x, t, "embeddings_project", _e, _h);

        var hidden = new double[_layers + 1][];
        hidden[0] = x;
        for (int l = 0; l < _layers; l++)
        {
            string p = $"encoder.layer.{l}.";
            var q = Dense(x, t, p + "attention.self.query", _h, _h);
            var k = Dense(x, t, p + "attention.self.key", _h, _h);
            var v = Dense(x, t, p + "attention.self.value", _h, _h);
            if (_roformer)
            {
                Rotate(q, t);
                Rotate(k, t);
                if (_config["rotary_value"]?.GetValue<bool>() == true) Rotate(v, t);
            }
            var context = Attention(q, k, v, t);
            var attention = Norm(Add(Dense(context, t, p + "attention.output.dense", _h, _h), x), t, _h, p + "attention.output.LayerNorm");
            int inter = W(p + "intermediate.dense.bias").Length;
            var mid = Dense(attention, t, p + "intermediate.dense", _h, inter).Select(Activate).ToArray();
            x = Norm(Add(Dense(mid, t, p + "output.dense", inter, _h), attention), t, _h, p + "output.LayerNorm");
            hidden[l + 1] = x;
        }

        double[]? pooler = null;
        if (_w.ContainsKey("pooler.dense.weight"))
            pooler = Dense(x[.._h], 1, "pooler.dense", _h, _h).Select(Math.Tanh).ToArray();
        return (hidden, pooler);
    }

    private float[] W(string name) => _w[name];

    private double[] Dense(double[] x, int rows, string name, int inFeatures, int outFeatures)
    {
        var w = W(name + ".weight");
        var b = W(name + ".bias");
        var y = new double[rows * outFeatures];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outFeatures; o++)
            {
                double s = b[o];
                for (int i = 0; i < inFeatures; i++) s += x[r * inFeatures + i] * w[o * inFeatures + i];
                y[r * outFeatures + o] = s;
            }
        return y;
    }

    private double[] Norm(double[] x, int rows, int cols, string name)
    {
        var g = W(name + ".weight");
        var b = W(name + ".bias");
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            var row = x.AsSpan(r * cols, cols);
            double mean = 0, var = 0;
            foreach (var v in row) mean += v;
            mean /= cols;
            foreach (var v in row) var += (v - mean) * (v - mean);
            var /= cols;
            for (int c = 0; c < cols; c++) y[r * cols + c] = (row[c] - mean) / Math.Sqrt(var + _eps) * g[c] + b[c];
        }
        return y;
    }

    private static double[] Add(double[] a, double[] b) => a.Zip(b, (x, y) => x + y).ToArray();

    private double Activate(double x) => _act switch
    {
        "gelu" => 0.5 * x * (1 + SpecialFunctions.Erf(x / Math.Sqrt(2))),
        "gelu_new" => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        "relu" => Math.Max(x, 0),
        "tanh" => Math.Tanh(x),
        _ => throw new NotSupportedException(_act),
    };

    /// <summary>Pairs (2j, 2j+1) of each head rotated by p·θ_j, θ_j = 10000^(−2j/d), p the token's position.</summary>
    private void Rotate(double[] x, int t)
    {
        int d = _h / _heads;
        for (int p = 0; p < t; p++)
            for (int head = 0; head < _heads; head++)
                for (int j = 0; j < d / 2; j++)
                {
                    double angle = p / Math.Pow(10000, 2.0 * j / d);
                    int i = p * _h + head * d + 2 * j;
                    double a = x[i], b = x[i + 1];
                    x[i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                    x[i + 1] = b * Math.Cos(angle) + a * Math.Sin(angle);
                }
    }

    private double[] Attention(double[] q, double[] k, double[] v, int t)
    {
        int d = _h / _heads;
        var context = new double[t * _h];
        var scores = new double[t];
        for (int head = 0; head < _heads; head++)
            for (int i = 0; i < t; i++)
            {
                for (int j = 0; j < t; j++)
                {
                    double s = 0;
                    for (int c = 0; c < d; c++) s += q[i * _h + head * d + c] * k[j * _h + head * d + c];
                    scores[j] = s / Math.Sqrt(d);
                }
                double max = scores.Max(), sum = 0;
                for (int j = 0; j < t; j++) sum += scores[j] = Math.Exp(scores[j] - max);
                for (int j = 0; j < t; j++)
                    for (int c = 0; c < d; c++) context[i * _h + head * d + c] += scores[j] / sum * v[j * _h + head * d + c];
            }
        return context;
    }
}
