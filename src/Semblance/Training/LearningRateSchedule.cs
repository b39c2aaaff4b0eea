// The learning-rate schedules of `semblance train --schedule`: linear warm-up, then constant, linear decay or cosine decay.
namespace Semblance.Training;

/// <summary>What the learning rate does after the warm-up (transformers' get_*_schedule_with_warmup).</summary>
public enum ScheduleKind
{
    /// <summary>Linear decay to zero at the last step (get_linear_schedule_with_warmup; the default).</summary>
    Linear,

    /// <summary>The peak rate until the end (get_constant_schedule_with_warmup).</summary>
    Constant,

    /// <summary>Half a cosine from the peak to zero (get_cosine_schedule_with_warmup with 0.5 cycles).</summary>
    Cosine,
}

/// <summary>
/// η(s) = η₀·s/W for s &lt; W; then, with p = (s − W)/(T − W): linear η₀·max(0, 1 − p), constant η₀, cosine
/// η₀·max(0, ½(1 + cos πp)). s counts optimizer steps from 0.
/// </summary>
public sealed record LearningRateSchedule(double PeakRate, long WarmupSteps, long TotalSteps, ScheduleKind Kind = ScheduleKind.Linear)
{
    private static readonly (ScheduleKind Kind, string Name)[] Names = [(ScheduleKind.Constant, "constant"), (ScheduleKind.Linear, "linear"), (ScheduleKind.Cosine, "cosine")];

    public static string CliNames => string.Join("|", Names.Select(n => n.Name));

    public static ScheduleKind Parse(string name) =>
        Names.FirstOrDefault(n => n.Name == name) is { Name: not null } found ? found.Kind
            : throw new SemblanceException($"--schedule: unknown schedule '{name}'; expected one of {CliNames}");

    public static string Format(ScheduleKind kind) => Names.First(n => n.Kind == kind).Name;

    public double At(long step)
    {
        if (step < WarmupSteps) return PeakRate * step / Math.Max(1, WarmupSteps);
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Kind switch
        {
            ScheduleKind.Constant => PeakRate,
            ScheduleKind.Cosine => PeakRate * Math.Max(0.0, 0.5 * (1 + Math.Cos(Math.PI * progress))),
            _ => PeakRate * Math.Max(0.0, 1 - progress),
        };
    }
}
