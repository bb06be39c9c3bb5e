namespace Microsoft.ML.BGpt.Training;

/// <summary>The loss or the gradients became NaN or infinite. A checkpoint on disk, if any, is the last good one.</summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the exception for the step that diverged.</summary>
    public TrainingDivergedException(int epoch, int step, double learningRate, string what)
        : base($"Training diverged in epoch {epoch}, optimizer step {step}: the {what} is not finite (learning rate {learningRate:G3}). " +
               "Try a lower LearningRate, a longer warm-up or gradient clipping (MaxGradNorm), and check the starting weights.")
    {
        Epoch = epoch;
        Step = step;
        LearningRate = learningRate;
    }

    /// <summary>1-based epoch of the failing step.</summary>
    public int Epoch { get; }

    /// <summary>1-based optimizer step (over the whole run) that failed.</summary>
    public int Step { get; }

    /// <summary>The learning rate of the failing step.</summary>
    public double LearningRate { get; }
}
