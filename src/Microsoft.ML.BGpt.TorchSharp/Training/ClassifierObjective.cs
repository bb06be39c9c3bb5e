using Microsoft.ML.BGpt.Modeling;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.BGpt.Training;

/// <summary>Cross-entropy of masked-mean-pooled logits (the original's CrossEntropyLoss), optionally class-weighted.</summary>
internal sealed class ClassifierObjective(BGptClassifier model, float[]? classWeights, double bestEpochTolerance = 0) : ITrainingObjective
{
    public nn.Module Model => model;

    public nn.Module CreateLike() => new BGptClassifier(model.Config, model.LabelCount);

    public ITrainingObjective On(nn.Module other) => new ClassifierObjective((BGptClassifier)other, classWeights, bestEpochTolerance);

    public Tensor TrainingLoss(TrainingBatch batch)
    {
        // The loss is always float32 (a bfloat16 working copy's logits are cast up).
        var logits = model.forward(batch.TokenTensor(), batch.MaskTensor()).to_type(ScalarType.Float32);
        var weight = classWeights is null ? null : tensor(classWeights);
        return F.cross_entropy(logits, batch.LabelTensor(), weight);
    }

    public void Evaluate(TrainingBatch batch, EvaluationTotals totals)
    {
        var logits = model.forward(batch.TokenTensor(), batch.MaskTensor());
        var labels = batch.LabelTensor();
        totals.LossSum += F.cross_entropy(logits, labels, reduction: nn.Reduction.Sum).to_type(ScalarType.Float64).item<double>();
        totals.Correct += logits.argmax(1).eq(labels).sum().item<long>();
        totals.Count += batch.Rows;
    }

    public (double Loss, double? Accuracy, double? BitsPerByte) Summarize(EvaluationTotals totals) =>
        (totals.LossSum / totals.Count, (double)totals.Correct / totals.Count, null);

    // The original keeps the epoch with the highest accuracy; ties (common on small sets) go to the lower loss.
    public bool IsBetter(EpochMetrics candidate, EpochMetrics best) =>
        candidate.ValidationAccuracy > best.ValidationAccuracy ||
        (candidate.ValidationAccuracy == best.ValidationAccuracy && candidate.ValidationLoss < best.ValidationLoss);

    public bool IsAsGood(EpochMetrics candidate, EpochMetrics best, int validationCount) =>
        bestEpochTolerance > 0 && candidate.ValidationAccuracy is { } a && best.ValidationAccuracy is { } b &&
        IsWithinStandardErrors(a, b, validationCount, bestEpochTolerance);

    /// <summary>
    /// True when <paramref name="accuracy"/> is at least <paramref name="best"/> less <paramref name="standardErrors"/>
    /// standard errors of <paramref name="best"/> over <paramref name="count"/> items (Laplace-smoothed, so it is never 0).
    /// </summary>
    internal static bool IsWithinStandardErrors(double accuracy, double best, int count, double standardErrors)
    {
        double p = (best * count + 1) / (count + 2);
        return accuracy >= best - standardErrors * Math.Sqrt(p * (1 - p) / Math.Max(1, count)) - 1e-12;
    }
}
