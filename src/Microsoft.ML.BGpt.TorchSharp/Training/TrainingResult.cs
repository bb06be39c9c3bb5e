namespace Microsoft.ML.BGpt.Training;

/// <summary>A trained model and how it got there.</summary>
/// <typeparam name="TModel">The TorchSharp model type.</typeparam>
/// <param name="Model">The trained model, in eval mode, with the best epoch's weights when <see cref="BGptTrainingOptions.RestoreBestEpoch"/> applied. The caller owns (disposes) it.</param>
/// <param name="History">Metrics of every epoch run in this call (resumed epochs excluded).</param>
/// <param name="BestEpoch">The epoch whose weights <paramref name="Model"/> holds.</param>
/// <param name="StoppedEarly">True when early stopping ended training before the last epoch.</param>
public sealed record TrainingResult<TModel>(TModel Model, IReadOnlyList<EpochMetrics> History, int BestEpoch, bool StoppedEarly);
