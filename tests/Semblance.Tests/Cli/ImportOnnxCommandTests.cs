// `semblance import onnx`: a tiny torch export imported with sentence-transformers modules, then used by `encode` as is.
using Semblance.IO;
using Semblance.Tests.Models;

namespace Semblance.Tests.Cli;

public class ImportOnnxCommandTests
{
    private static readonly string Data = Path.Combine(AppContext.BaseDirectory, "Models", "Onnx", "Data");

    private static string[] Import(string onnx, string output, params string[] extra) =>
        ["import", "onnx", "--input", Path.Combine(Data, onnx), "--vocab", Path.Combine(Data, "vocab.txt"), "--output", output, .. extra];

    [Fact]
    public void ImportedDirectoryEncodesWithItsPoolingAndNormalisation()
    {
        using var dir = new TempDir();
        var model = Path.Combine(dir.Path, "model");
        var (code, stdout, err) = CliAppTests.Run(Import("bert_pooler.onnx", model, "--pooling", "mean", "--normalize", "--max-seq-length", "16"));
        Assert.True(code == 0, err);
        Assert.Contains("2 layers, hidden 32, 4 heads, FFN 64, gelu, eps 1E-12, 64 positions, vocab 45, 39 tensors, pooler", stdout);

        var vectors = dir.File("v.npy");
        (code, _, err) = CliAppTests.RunWithInput("the cat sat on the mat .\nhello world\n", ["encode", "--model", model, "--format", "npy", "--output", vectors]);
        Assert.True(code == 0, err);
        var m = Npy.ReadFloat32(vectors);
        Assert.Equal((2, 32), (m.Rows, m.Columns));
        for (int r = 0; r < m.Rows; r++) Assert.Equal(1.0, Math.Sqrt(m.Row(r).ToArray().Sum(x => (double)x * x)), 5);

        (code, stdout, err) = CliAppTests.Run(["info", "--model", model]);
        Assert.True(code == 0, err);
        Assert.Contains("mean", stdout);
    }

    [Fact]
    public void MistakesAreOneLineErrors()
    {
        using var dir = new TempDir();
        var output = Path.Combine(dir.Path, "out");
        var (code, _, err) = CliAppTests.Run(Import("bert_pooler.onnx", output, "--normalize"));
        Assert.Equal(2, code);
        Assert.Contains("--normalize needs --pooling", err);

        (code, _, err) = CliAppTests.Run(Import("bert_pooler.onnx", output, "--pooling", "first-last-avg"));
        Assert.Equal(1, code);
        Assert.Contains("no sentence-transformers Pooling module", err);

        (code, _, err) = CliAppTests.Run(Import("mlp.onnx", output));
        Assert.Equal(1, code);
        Assert.Contains("not a BERT-family encoder", err);
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.False(Directory.Exists(output));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }
}
