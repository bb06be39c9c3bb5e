namespace Microsoft.ML.BGpt.Training;

/// <summary>
/// Linear warm-up then cosine decay to 0, by optimizer step: transformers' <c>get_cosine_schedule_with_warmup</c>,
/// which the original creates but never applies (it replaces the optimizer afterwards). One difference: warm-up
/// counts from step 1, so the first step already learns (transformers' first step has learning rate 0).
/// </summary>
public sealed class CosineSchedule
{
    /// <summary>A schedule over <paramref name="totalSteps"/> optimizer steps.</summary>
    /// <param name="peak">The learning rate at the end of warm-up.</param>
    /// <param name="warmupFraction">Share of the steps spent warming up, in [0, 1).</param>
    /// <param name="totalSteps">Optimizer steps of the whole run.</param>
    public CosineSchedule(double peak, double warmupFraction, int totalSteps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSteps, 1);
        Peak = peak;
        TotalSteps = totalSteps;
        WarmupSteps = (int)Math.Round(warmupFraction * totalSteps);
    }

    /// <summary>The peak learning rate.</summary>
    public double Peak { get; }

    /// <summary>Optimizer steps of the whole run.</summary>
    public int TotalSteps { get; }

    /// <summary>Steps whose learning rate rises linearly to <see cref="Peak"/>.</summary>
    public int WarmupSteps { get; }

    /// <summary>Share of the run spent warming up.</summary>
    public double WarmupFraction => (double)WarmupSteps / TotalSteps;

    /// <summary>
    /// Learning rate at <paramref name="fraction"/> of the run (0 to 1; beyond 1 it stays 0): the same warm-up and
    /// cosine, over a run measured in time rather than steps.
    /// </summary>
    public double AtFraction(double fraction)
    {
        double warm = WarmupFraction;
        if (fraction < warm) return Peak * Math.Max(fraction, 1.0 / TotalSteps) / warm;
        double progress = (fraction - warm) / Math.Max(1e-12, 1 - warm);
        return Peak * Math.Max(0, 0.5 * (1 + Math.Cos(Math.PI * Math.Clamp(progress, 0, 1))));
    }

    /// <summary>
    /// The fraction at which <see cref="AtFraction"/> gives <see cref="At"/>(<paramref name="step"/>): (step + 1) / total
    /// while warming up (whose first step already learns), step / total after.
    /// </summary>
    public double FractionOf(int step) => (step < WarmupSteps ? step + 1.0 : step) / TotalSteps;

    /// <summary>Learning rate of the optimizer step with 0-based index <paramref name="step"/>.</summary>
    public double At(int step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Peak * Math.Max(0, 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1, progress))));
    }
}
