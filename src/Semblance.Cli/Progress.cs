// A one-line progress display on stderr for long jobs, drawn only when stderr is a terminal.
using System.Diagnostics;

namespace Semblance.Cli;

internal sealed class Progress : IProgress<long>
{
    private readonly TextWriter _err;
    private readonly bool _enabled;
    private readonly string _unit;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _last = TimeSpan.MinValue;
    private bool _drawn;

    public Progress(CliIO io, string unit)
    {
        _err = io.Err;
        _enabled = io.ShowProgress;
        _unit = unit;
    }

    public void Report(long value)
    {
        if (!_enabled) return;
        var now = _clock.Elapsed;
        if (now - _last < TimeSpan.FromMilliseconds(200) || now < TimeSpan.FromSeconds(1)) return;
        _last = now;
        double rate = value / Math.Max(now.TotalSeconds, 1e-9);
        _err.Write($"\r{value:N0} {_unit}  {rate:N0}/s  {now:hh\\:mm\\:ss}   ");
        _drawn = true;
    }

    public void Done()
    {
        if (_drawn) _err.WriteLine();
    }
}
