namespace Microsoft.ML.BGpt.Training;

/// <summary>Settings of <see cref="Pretrainer"/> (next-byte language modelling).</summary>
public class PretrainingOptions : BGptTrainingOptions
{
    /// <summary>
    /// Creates the defaults. <see cref="BGptTrainingOptions.LearningRate"/> defaults to 1e-4, the original's generation
    /// training rate; for continuing a pretrained model on a small corpus, 2e-5 to 5e-5 disturbs it less.
    /// </summary>
    public PretrainingOptions() => LearningRate = 1e-4;
}
