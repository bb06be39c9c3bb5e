namespace Microsoft.ML.BGpt.Training;

/// <summary>Reported after every optimizer step.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Step">Optimizer steps done in the whole run (1-based, counting resumed epochs).</param>
/// <param name="TotalSteps">Optimizer steps of the whole run.</param>
/// <param name="Loss">Training loss of the step (mean over its batches; nats).</param>
/// <param name="LearningRate">The learning rate the step used.</param>
/// <param name="ValidationAccuracy">Accuracy of the last finished epoch's validation (classification), when known.</param>
/// <param name="BytesPerSecond">Real (unpadded) tokens trained on per second in this epoch.</param>
/// <param name="Eta">Estimated time to the end of training (validation excluded).</param>
public sealed record TrainingProgress(int Epoch, int Step, int TotalSteps, double Loss, double LearningRate,
    double? ValidationAccuracy, double BytesPerSecond, TimeSpan Eta);
