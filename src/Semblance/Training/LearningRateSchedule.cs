// Linear warm-up then linear decay to zero (the BERT fine-tuning schedule, transformers' get_linear_schedule_with_warmup).
namespace Semblance.Training;

/// <summary>η(s) = η₀·s/W for s &lt; W, then η₀·max(0, (T − s)/(T − W)); s counts optimizer steps from 0.</summary>
public sealed record LearningRateSchedule(double PeakRate, long WarmupSteps, long TotalSteps)
{
    public double At(long step)
    {
        if (step < WarmupSteps) return PeakRate * step / Math.Max(1, WarmupSteps);
        return PeakRate * Math.Max(0.0, (double)(TotalSteps - step) / Math.Max(1, TotalSteps - WarmupSteps));
    }
}
