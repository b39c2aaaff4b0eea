// Kills `semblance index add` processes at random moments and checks that the index on disk is always the old or
// the new state (never corrupt, never half-added), and that every acknowledged add survives.
using System.Diagnostics;
using Semblance.IO;
using Semblance.Search;
using Xunit.Abstractions;

namespace Semblance.Tests.Search;

public class CrashSafetyTests(ITestOutputHelper output)
{
    private const int Dimension = 32;
    private const int Batch = 4000;

    [Fact]
    public void KilledWritersLeaveTheOldOrTheNewIndexAndNeverLoseAcknowledgedAdds()
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "Semblance.Cli.dll");
        Assert.True(File.Exists(cli), $"{cli} is missing; the test project references the CLI project");
        var dir = SearchTestData.TempDir();
        var idx = Path.Combine(dir, "idx");
        using (var index = new FlatIndex(Dimension, Metric.Cosine))
        {
            index.Add(SearchTestData.Clustered(Batch, Dimension, 40), SearchTestData.Ids(Batch).Select(i => "base" + i).ToArray());
            index.Save(idx);
        }
        var expected = new HashSet<string>(Enumerable.Range(0, Batch).Select(i => "base" + i));
        var rng = new Random(1234);
        var budget = Stopwatch.StartNew();

        // One uninterrupted add calibrates how long a writer runs, so kill delays spread over its whole life.
        var (_, acked, elapsed) = RunAdd(cli, dir, idx, 0, killAfterMs: null);
        Assert.True(acked, "the calibration add did not print its success line");
        AddBatchIds(expected, 0);
        Check(idx, expected, null);

        int killedBeforeCommit = 0, killedAfterCommit = 0, completed = 0;
        for (int round = 1; budget.Elapsed < TimeSpan.FromSeconds(14) && round < 60; round++)
        {
            int delay = rng.Next(0, (int)(elapsed.TotalMilliseconds * 1.1) + 1);
            var (killed, ok, _) = RunAdd(cli, dir, idx, round, delay);
            bool present = Check(idx, expected, round);
            if (ok) Assert.True(present, $"round {round}: the add printed success but its items are not in the index");
            if (present) AddBatchIds(expected, round);
            if (ok) completed++;
            else if (present) killedAfterCommit++;
            else killedBeforeCommit++;
            Assert.True(ok || killed, $"round {round}: the writer failed without being killed");
        }
        output.WriteLine($"writer runs ~{elapsed.TotalMilliseconds:F0} ms; completed {completed}, killed before commit {killedBeforeCommit}, killed after commit {killedAfterCommit}");
        // The random delays must actually have interrupted writers, or the test proves nothing.
        Assert.True(killedBeforeCommit > 0, $"no writer was killed before its commit (completed {completed}, after commit {killedAfterCommit})");
        using var final = VectorIndex.Load(idx);
        Assert.Equal(expected.Count, final.Count);
    }

    private static void AddBatchIds(HashSet<string> expected, int round)
    {
        for (int i = 0; i < Batch; i++) expected.Add($"r{round}_{i}");
    }

    /// <summary>Loads with full checksum verification; returns whether round's items are present (all or none).</summary>
    private static bool Check(string idx, HashSet<string> expected, int? round)
    {
        using var index = VectorIndex.Load(idx, verify: true);
        foreach (var id in expected) Assert.True(index.Contains(id), $"acknowledged item {id} is missing");
        if (round is null) return true;
        int present = Enumerable.Range(0, Batch).Count(i => index.Contains($"r{round}_{i}"));
        Assert.True(present == 0 || present == Batch, $"round {round}: {present} of {Batch} items present (half-applied add)");
        Assert.Equal(expected.Count + present, index.Count);
        var probe = new float[Dimension];
        index.GetVector(0, probe);
        Assert.NotEmpty(index.SearchBatch(probe, 3)[0]);
        return present == Batch;
    }

    private static (bool Killed, bool Acked, TimeSpan Elapsed) RunAdd(string cli, string dir, string idx, int round, int? killAfterMs)
    {
        var vectors = Path.Combine(dir, $"batch{round}.npy");
        var ids = Path.Combine(dir, $"ids{round}.txt");
        Npy.WriteFloat32(vectors, SearchTestData.Clustered(Batch, Dimension, 100 + round), Batch, Dimension);
        File.WriteAllLines(ids, Enumerable.Range(0, Batch).Select(i => $"r{round}_{i}"));
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { cli, "index", "add", "--index", idx, "--vectors", vectors, "--ids", ids, "--threads", "1" }) psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        bool killed = false;
        if (killAfterMs is { } ms && !p.WaitForExit(ms))
        {
            p.Kill(entireProcessTree: true);
            killed = true;
        }
        p.WaitForExit();
        var elapsed = sw.Elapsed;
        bool acked = stdout.Result.Contains($"added {Batch} items to {idx}");
        if (!killed) Assert.True(p.ExitCode == 0 && acked, $"round {round}: exit {p.ExitCode}: {stderr.Result}");
        return (killed, acked, elapsed);
    }
}
