// Opt-in time per tape operation (SEMBLANCE_TAPE_PROFILE=1), forward and backward, for finding training hot spots.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Semblance.Training.Autodiff;

/// <summary>
/// Times are the calling thread's CPU time where the OS gives it (Linux), so a busy machine does not inflate them;
/// with more than one compute thread the workers' share is not counted. Forward time of an operation is the time since the previous recorded operation of the same tape ended, so it
/// also holds the model code between the two (small: index arithmetic); backward time is the closure's own.
/// Off unless the environment variable is set when the process starts: then every recording tape adds to one
/// process-wide table, which <see cref="Report"/> prints and clears.
/// </summary>
internal static class TapeProfile
{
    public const string Variable = "SEMBLANCE_TAPE_PROFILE";

    private static readonly Dictionary<(string Op, bool Forward), (long Ticks, long Calls)> Table = [];

    /// <summary>Read by each new tape; the environment variable sets the initial value.</summary>
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable(Variable) is "1" or "true";

    /// <summary>A timestamp in <see cref="Stopwatch.Frequency"/> units: thread CPU time on Linux, wall time elsewhere.</summary>
    internal static long Now()
    {
        if (OperatingSystem.IsLinux() && ClockGetTime(ThreadCpuClock, out var ts) == 0)
            return (long)((ts.Seconds * 1_000_000_000L + ts.Nanoseconds) * (Stopwatch.Frequency / 1e9));
        return Stopwatch.GetTimestamp();
    }

    private const int ThreadCpuClock = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    internal static void Add(string op, bool forward, long ticks)
    {
        lock (Table)
        {
            Table.TryGetValue((op, forward), out var entry);
            Table[(op, forward)] = (entry.Ticks + ticks, entry.Calls + 1);
        }
    }

    public static void Reset()
    {
        lock (Table) Table.Clear();
    }

    /// <summary>One line per (operation, direction), the slowest first, in ms per <paramref name="perSteps"/> step(s).</summary>
    public static void Report(TextWriter writer, int perSteps)
    {
        lock (Table)
        {
            double total = Table.Values.Sum(e => e.Ticks);
            foreach (var ((op, forward), (ticks, calls)) in Table.OrderByDescending(e => e.Value.Ticks))
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"profile: {op,-22} {(forward ? "forward " : "backward")} {1000.0 * ticks / Stopwatch.Frequency / perSteps,8:F2} ms/step {100 * ticks / total,5:F1}% calls/step {(double)calls / perSteps:F1}"));
            Table.Clear();
        }
    }
}
