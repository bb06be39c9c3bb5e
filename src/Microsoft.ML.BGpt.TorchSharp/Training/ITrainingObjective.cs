using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Training;

/// <summary>What a training loop needs to know about one kind of model: its loss, its validation and what "better" means.</summary>
internal interface ITrainingObjective
{
    nn.Module Model { get; }

    /// <summary>A fresh model of the same kind and configuration (the working copy of mixed precision).</summary>
    nn.Module CreateLike();

    /// <summary>The same objective computed on <paramref name="model"/>, a model made by <see cref="CreateLike"/>.</summary>
    ITrainingObjective On(nn.Module model);

    /// <summary>The scalar training loss of a batch (graph attached, for backward).</summary>
    Tensor TrainingLoss(TrainingBatch batch);

    /// <summary>Adds a batch's validation loss sum, element count and correct predictions to <paramref name="totals"/> (eval mode, no grad).</summary>
    void Evaluate(TrainingBatch batch, EvaluationTotals totals);

    /// <summary>Turns totals into epoch metrics' validation loss, accuracy and bits per byte.</summary>
    (double Loss, double? Accuracy, double? BitsPerByte) Summarize(EvaluationTotals totals);

    /// <summary>True when <paramref name="candidate"/> is strictly better than <paramref name="best"/>.</summary>
    bool IsBetter(EpochMetrics candidate, EpochMetrics best);

    /// <summary>
    /// True when <paramref name="candidate"/>, a later epoch and not better than <paramref name="best"/>, is as good within
    /// the noise of <paramref name="validationCount"/> validation items, so its weights are kept instead.
    /// </summary>
    bool IsAsGood(EpochMetrics candidate, EpochMetrics best, int validationCount);
}

/// <summary>Validation sums over batches, so the result does not depend on the batch size.</summary>
internal sealed class EvaluationTotals
{
    public double LossSum;
    public long Count;
    public long Correct;
}
