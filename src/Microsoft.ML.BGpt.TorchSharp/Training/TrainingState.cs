namespace Microsoft.ML.BGpt.Training;

/// <summary>Where a run stands between epochs: what a checkpoint records and a resume restores.</summary>
/// <param name="CompletedEpochs">Epochs finished (the original's 'epoch').</param>
/// <param name="BestEpoch">The epoch whose weights are kept (the original's 'best_epoch').</param>
/// <param name="Best">The best validation metrics so far, when known: the kept epoch's, or an earlier epoch's that a later one matched within <see cref="ClassifierTrainingOptions.BestEpochTolerance"/>.</param>
/// <param name="OptimizerSteps">Optimizer steps taken so far (the schedule's position).</param>
internal sealed record TrainingState(int CompletedEpochs, int BestEpoch, EpochMetrics? Best, int OptimizerSteps);
