// CI's short fuzz run: every target of tests/Semblance.Fuzz for a bounded number of mutated inputs, deterministic
// for its seed. A crash (any exception that is not a SemblanceException) fails the test with the input's size and
// the exception, and its input can be replayed with scripts/fuzz.sh --replay.
using Semblance.Fuzz;

namespace Semblance.Tests.Fuzz;

public class FuzzTargetsTests
{
    public static TheoryData<string> Targets => new(FuzzTarget.All.Select(t => t.Name));

    [Fact]
    public void EveryParserHasATarget()
    {
        string[] expected = ["config", "index-flat", "index-hnsw", "index-items", "index-manifest", "jsonl", "npy", "onnx", "safetensors", "tokenizer-json", "tsv", "vocab", "whitening", "http-body"];
        Assert.Subset(FuzzTarget.All.Select(t => t.Name).ToHashSet(), expected.ToHashSet());
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void TargetSurvives2000MutatedInputs(string name)
    {
        var target = FuzzTarget.Find(name)!;
        var result = new FuzzRunner { MaxExecutions = 2000, Seed = 13 }.Run(target);
        Assert.True(result.Crash is null, $"{name}: {result.Crash?.GetType().FullName}: {result.Crash?.Message} (input of {result.CrashInput?.Length} bytes)\n{result.Crash?.StackTrace}");
        Assert.Equal(2000, result.Executions);
        // The generated seeds are valid files: a target that refuses them fuzzes nothing but its first check.
        Assert.True(result.SeedsRejected == 0, $"{name}: {result.SeedsRejected} of {result.Seeds} seeds were refused");
        Assert.True(result.Rejected > 0, $"{name}: no mutated input was refused; the mutations do not reach the parser");
    }

    [Fact]
    public void ACrashIsReportedAndItsInputSaved()
    {
        var dir = Path.Combine(Path.GetTempPath(), "semblance-fuzz-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var result = new FuzzRunner { MaxExecutions = 50, CrashDirectory = dir }.Run(new Crashing());
            Assert.IsType<IndexOutOfRangeException>(result.Crash);
            Assert.True(File.Exists(result.CrashFile));
            Assert.Equal(result.CrashInput, File.ReadAllBytes(result.CrashFile!));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A parser with a bug: it indexes past the end of short inputs.</summary>
    private sealed class Crashing : FuzzTarget
    {
        public override string Name => "crashing";
        public override string Description => "test double";
        public override IEnumerable<byte[]> Seeds() => [[1, 2, 3, 4, 5, 6, 7, 8]];

        public override void Execute(byte[] input, string work)
        {
            if (input.Length > 100) throw new InputFormatException("too long");
            GC.KeepAlive(input[7]);
        }
    }
}
