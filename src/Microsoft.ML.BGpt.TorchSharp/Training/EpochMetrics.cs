namespace Microsoft.ML.BGpt.Training;

/// <summary>What one epoch achieved.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="TrainLoss">Mean training loss over the epoch's batches (weighted by class weights, with dropout; nats).</param>
/// <param name="ValidationLoss">Mean validation loss (per file for classification, per byte for language modelling; nats), or null without validation data.</param>
/// <param name="ValidationAccuracy">Validation accuracy (classification only), or null.</param>
/// <param name="BitsPerByte">Validation loss / ln 2 (language modelling only), or null.</param>
/// <param name="Seconds">Wall-clock seconds of the epoch, validation included.</param>
/// <param name="BytesPerSecond">Real (unpadded) tokens trained on per second, validation excluded.</param>
/// <param name="IsBest">True when this epoch became the kept one: the best so far on validation, or as good within <see cref="ClassifierTrainingOptions.BestEpochTolerance"/> (always true without validation data).</param>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double? ValidationLoss, double? ValidationAccuracy,
    double? BitsPerByte, double Seconds, double BytesPerSecond, bool IsBest);
