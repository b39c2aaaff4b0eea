// The GRU encoder under AM-Softmax, FlatNCE and both SimCSE batch layouts against PyTorch in float64 (fixtures made by tools/gradients/make_gru_fixtures.py).
using System.Text.Json;
using Semblance.Embeddings;
using Semblance.Models;
using Semblance.Tests.Models;
using Semblance.Training;
using Semblance.Training.Autodiff;

namespace Semblance.Tests.Training;

public class GruGradientTests
{
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Training", "Fixtures", "gru");

    [Theory]
    [InlineData("am-softmax")]
    [InlineData("flatnce")]
    [InlineData("simcse-views")]
    [InlineData("simcse-duplicate")]
    [InlineData("am-softmax-proxy")]
    public void LossAndGradientsMatchPyTorch(string lossName)
    {
        var encoder = TrainableGru.Load(Dir);
        using var batchJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "batch.json")));
        TokenBatch Column(string name) => TokenBatch.FromSequences(batchJson.RootElement.GetProperty(name).EnumerateArray()
            .Select(s => s.EnumerateArray().Select(t => t.GetInt32()).ToArray()).ToList());
        EmbeddingLoss loss = lossName switch
        {
            "am-softmax" => new AmSoftmaxLoss(margin: 0.35f, scale: 30f),
            "simcse-views" => new SimCseLoss(0.05f, SimCseBatch.Views),
            "simcse-duplicate" => new SimCseLoss(0.05f, SimCseBatch.Duplicate),
            "am-softmax-proxy" => new AmSoftmaxProxyLoss(classes: 4, dimension: encoder.Dimension, seed: 1, margin: 0.35f, scale: 30f),
            _ => new FlatNceLoss(0.05f),
        };
        var reference = SafeTensorsContent.Read(Path.Combine(Dir, lossName + ".safetensors"));
        var tape = new Tape();
        var a = encoder.Encode(tape, Column("anchors"), PoolingMode.Mean);
        var p = encoder.Encode(tape, Column("positives"), PoolingMode.Mean);
        LossValue value;
        if (loss is AmSoftmaxProxyLoss proxy)
        {
            reference.Get(AmSoftmaxProxyLoss.ProxyName, proxy.Proxies.Shape).CopyTo(proxy.Proxies.Data, 0);
            var classes = batchJson.RootElement.GetProperty("classes").EnumerateArray().Select(c => (float)c.GetInt32()).ToArray();
            value = loss.Compute(tape, [a], classes);
        }
        else
        {
            value = loss.Compute(tape, [a, p], null);
        }
        tape.Backward(value.Objective);

        float referenceLoss = reference.Get("loss", 1)[0];
        Assert.True(Math.Abs(value.Reported - referenceLoss) <= 1e-5 * Math.Max(1, Math.Abs(referenceLoss)), $"loss {value.Reported} vs torch {referenceLoss}");
        float largest = 0, worst = 0;
        string worstName = "";
        foreach (var parameter in encoder.Parameters)
        {
            var expected = reference.Get("grad." + parameter.Name, parameter.Shape);
            largest = Math.Max(largest, expected.Max(Math.Abs));
            Assert.NotNull(parameter.Grad);
            float error = Compare.MaxAbs(parameter.Grad, expected);
            if (error > worst) (worst, worstName) = (error, parameter.Name);
        }
        if (loss is AmSoftmaxProxyLoss withProxies)
        {
            var expected = reference.Get("grad." + AmSoftmaxProxyLoss.ProxyName, withProxies.Proxies.Shape);
            Assert.NotNull(withProxies.Proxies.Grad);
            float error = Compare.MaxAbs(withProxies.Proxies.Grad, expected);
            if (error > worst) (worst, worstName) = (error, AmSoftmaxProxyLoss.ProxyName);
        }
        Assert.True(worst <= 1e-5 * largest, $"{worstName}: {worst} vs largest {largest}");
    }
}
