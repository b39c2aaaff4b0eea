// Runs a target: seeds first, then mutated inputs until a time or execution budget is spent. A crash is any exception
// that is not a SemblanceException; the input that caused it is saved so it can be replayed and turned into a test.
using System.Diagnostics;
using System.Security.Cryptography;

namespace Semblance.Fuzz;

/// <summary>What one run of a target did.</summary>
/// <param name="SeedsRejected">Built-in (valid) seeds the target refused: 0 unless the target itself is broken.</param>
public sealed record FuzzResult(string Target, long Executions, long Accepted, long Rejected, TimeSpan Elapsed, int Seeds, int SeedsRejected,
    Exception? Crash, byte[]? CrashInput, string? CrashFile)
{
    public double Rate => Executions / Math.Max(Elapsed.TotalSeconds, 1e-9);

    public override string ToString() =>
        $"{Target}: {Executions} executions ({Accepted} accepted, {Rejected} rejected with a clear error), {(Crash is null ? "no crash" : "CRASH")}, "
        + $"{Elapsed.TotalSeconds:F1} s, {Rate:F0}/s, {Seeds} seeds";
}

public sealed class FuzzRunner
{
    /// <summary>Stop after this many executions (0 = no limit).</summary>
    public long MaxExecutions { get; init; }

    /// <summary>Stop after this long (zero = no limit).</summary>
    public TimeSpan Duration { get; init; }

    public int Seed { get; init; } = 1;

    /// <summary>Where crashing inputs are written (null = not saved).</summary>
    public string? CrashDirectory { get; init; }

    /// <summary>Start time of the execution in progress (ticks), for a watchdog; 0 between executions.</summary>
    public long CurrentStart => Volatile.Read(ref _currentStart);

    /// <summary>The input in progress, for a watchdog that reports a hang.</summary>
    public byte[]? CurrentInput => Volatile.Read(ref _currentInput);

    private long _currentStart;
    private byte[]? _currentInput;

    public FuzzResult Run(FuzzTarget target)
    {
        var rng = new Random(Seed);
        var mutator = new Mutator(rng);
        target.Prepare();   // one-time set-up (e.g. starting a server) is not an execution and not under the watchdog
        var builtIn = target.Seeds().ToList();
        var seeds = builtIn.Concat(target.CorpusFiles()).DistinctBy(Convert.ToBase64String).ToList();
        if (seeds.Count == 0) seeds.Add([]);
        var work = WorkDirectory(target.Name);
        long executions = 0, accepted = 0, rejected = 0;
        int seedsRejected = 0;
        var clock = Stopwatch.StartNew();
        try
        {
            // Seeds unmutated first: a built-in seed is a valid file, so count how many of those the target refuses
            // (corpus files may be damaged on purpose: inputs that once crashed a parser).
            for (int i = 0; i < seeds.Count; i++)
            {
                var outcome = Once(target, seeds[i], work, out var crash);
                executions++;
                if (crash is not null) return Crashed(target, seeds[i], crash);
                if (outcome) accepted++;
                else
                {
                    rejected++;
                    if (i < builtIn.Count) seedsRejected++;
                }
            }
            while ((MaxExecutions == 0 || executions < MaxExecutions) && (Duration == TimeSpan.Zero || clock.Elapsed < Duration))
            {
                var parent = seeds[rng.Next(seeds.Count)];
                var input = target.PostMutate(mutator.Mutate(parent, seeds), rng);
                var ok = Once(target, input, work, out var crash);
                executions++;
                if (crash is not null) return Crashed(target, input, crash);
                if (ok) accepted++; else rejected++;
            }
            return new FuzzResult(target.Name, executions, accepted, rejected, clock.Elapsed, seeds.Count, seedsRejected, null, null, null);
        }
        finally
        {
            TryDelete(work);
        }

        FuzzResult Crashed(FuzzTarget t, byte[] input, Exception e)
        {
            string? file = SaveCrash(t.Name, input);
            return new FuzzResult(t.Name, executions, accepted, rejected, clock.Elapsed, seeds.Count, seedsRejected, e, input, file);
        }
    }

    /// <summary>One execution: true = accepted, false = refused with a SemblanceException; a crash is returned in <paramref name="crash"/>.</summary>
    private bool Once(FuzzTarget target, byte[] input, string work, out Exception? crash)
    {
        Clean(work);
        Volatile.Write(ref _currentInput, input);
        Volatile.Write(ref _currentStart, Stopwatch.GetTimestamp());
        try
        {
            return Invoke(target, input, work, out crash);
        }
        finally
        {
            Volatile.Write(ref _currentStart, 0);
        }
    }

    private static bool Invoke(FuzzTarget target, byte[] input, string work, out Exception? crash)
    {
        crash = null;
        try
        {
            target.Execute(input, work);
            return true;
        }
        catch (SemblanceException)
        {
            return false;
        }
        catch (Exception e)
        {
            crash = e;
            return false;
        }
    }

    /// <summary>Writes a crashing (or hanging) input under the crash directory; returns its path.</summary>
    public string? SaveCrash(string target, byte[] input)
    {
        if (CrashDirectory is null) return null;
        Directory.CreateDirectory(CrashDirectory);
        var path = Path.Combine(CrashDirectory, $"{target}-{Convert.ToHexStringLower(SHA256.HashData(input))[..16]}.bin");
        File.WriteAllBytes(path, input);
        return path;
    }

    /// <summary>Replays one saved input; returns the exception a crash would be, or null.</summary>
    public static Exception? Replay(FuzzTarget target, byte[] input) => Replay(target, input, out _);

    /// <summary>As <see cref="Replay(FuzzTarget, byte[])"/>; <paramref name="refusal"/> is the clear error, if refused.</summary>
    public static Exception? Replay(FuzzTarget target, byte[] input, out string? refusal)
    {
        target.Prepare();
        var work = WorkDirectory(target.Name);
        refusal = null;
        try
        {
            try { target.Execute(input, work); return null; }
            catch (SemblanceException e) { refusal = e.Message; return null; }
            catch (Exception e) { return e; }
        }
        finally
        {
            TryDelete(work);
        }
    }

    /// <summary>A private scratch directory, in memory (/dev/shm) when the machine has it.</summary>
    private static string WorkDirectory(string target)
    {
        var root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        var dir = Path.Combine(root, $"semblance-fuzz-{target}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static void Clean(string work)
    {
        foreach (var entry in new DirectoryInfo(work).EnumerateFileSystemInfos())
        {
            if (entry is DirectoryInfo d) d.Delete(recursive: true);
            else entry.Delete();
        }
    }

    private static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
