// One fuzz target per parser or decoder: a name, seed inputs, and one execution of the public entry point.
using System.Reflection;

namespace Semblance.Fuzz;

/// <summary>
/// A parser under fuzzing. <see cref="Execute"/> feeds one (mutated) input to the public entry point the way a user's
/// file would arrive; a <see cref="SemblanceException"/> is the expected outcome for damaged input, anything else
/// escaping is a crash. Adding a target is one class deriving from this one: the registry finds it by reflection.
/// </summary>
public abstract class FuzzTarget
{
    /// <summary>Name used on the command line and as the corpus folder (e.g. "npy").</summary>
    public abstract string Name { get; }

    /// <summary>What the target feeds its input to, for the report.</summary>
    public abstract string Description { get; }

    /// <summary>Valid (or interesting) inputs generated in code; the committed corpus adds to them.</summary>
    public abstract IEnumerable<byte[]> Seeds();

    /// <summary>
    /// Runs one input. <paramref name="work"/> is an empty scratch directory owned by this execution.
    /// </summary>
    public abstract void Execute(byte[] input, string work);

    /// <summary>
    /// The mutations a target wants beyond the generic byte-level ones (e.g. keep a checksum valid so the mutated
    /// payload reaches the decoder). Default: none.
    /// </summary>
    public virtual byte[] PostMutate(byte[] mutated, Random rng) => mutated;

    /// <summary>One-time set-up before the first execution (outside the hang watchdog). Default: nothing.</summary>
    public virtual void Prepare()
    {
    }

    public static IReadOnlyList<FuzzTarget> All { get; } = typeof(FuzzTarget).Assembly.GetTypes()
        .Where(t => t.IsSubclassOf(typeof(FuzzTarget)) && !t.IsAbstract)
        .Select(t => (FuzzTarget)Activator.CreateInstance(t)!)
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .ToArray();

    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);

    /// <summary>Seed files committed under corpus/NAME/ next to the harness, if any.</summary>
    public IEnumerable<byte[]> CorpusFiles()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "corpus", Name);
        if (!Directory.Exists(dir)) return [];
        return Directory.EnumerateFiles(dir, "*.bin").Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();
    }
}
