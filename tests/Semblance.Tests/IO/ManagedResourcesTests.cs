// Manifest resources read from an assembly file's metadata (this test assembly embeds the ONNX tests' vocab.txt).
using Semblance.IO;
using Semblance.Tests.Models;

namespace Semblance.Tests.IO;

public class ManagedResourcesTests
{
    private const string Resource = "Semblance.Tests.Resources.vocab.txt";
    private static readonly string Assembly = typeof(ManagedResourcesTests).Assembly.Location;
    private static readonly string Vocab = Path.Combine(AppContext.BaseDirectory, "Models", "Onnx", "Data", "vocab.txt");

    [Fact]
    public void ListsAndOpensEmbeddedResources()
    {
        Assert.Contains(Resource, ManagedResources.List(Assembly));
        using var stream = ManagedResources.Open(Assembly, Resource);
        var expected = File.ReadAllBytes(Vocab);
        Assert.Equal(expected.Length, stream.Length);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        Assert.Equal(expected, copy.ToArray());
        stream.Position = 5;
        Assert.Equal(expected[5], stream.ReadByte());
        Assert.Equal(-1, ReadAt(stream, expected.Length));
    }

    private static int ReadAt(Stream s, long position)
    {
        s.Position = position;
        return s.ReadByte();
    }

    [Fact]
    public void AbsentResourceOrNonAssemblyIsAClearError()
    {
        var missing = Assert.Throws<SemblanceException>(() => ManagedResources.Open(Assembly, "No.Such.Resource"));
        Assert.Contains(Assembly, missing.Message);
        Assert.Contains("no embedded resource 'No.Such.Resource'", missing.Message);
        Assert.Contains(Resource, missing.Message);

        var notDll = Assert.Throws<SemblanceException>(() => ManagedResources.List(Vocab));
        Assert.Contains("not a .NET assembly", notDll.Message);
        Assert.Contains(Vocab, notDll.Message);

        using var dir = new TempDir();
        var absent = dir.File("absent.dll");
        Assert.Contains("file not found", Assert.Throws<SemblanceException>(() => ManagedResources.Open(absent, Resource)).Message);

        var truncated = dir.File("truncated.dll");
        File.WriteAllBytes(truncated, File.ReadAllBytes(Assembly)[..400]);
        var ex = Assert.ThrowsAny<SemblanceException>(() => ManagedResources.Open(truncated, Resource));
        Assert.Contains(truncated, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }
}
