using Microsoft.ML.BGpt.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Training;

/// <summary>The original's next-patch, byte-level LM loss; validation is the mean per predicted byte over the whole set.</summary>
internal sealed class LanguageModelObjective(BGptLMHeadModel model, int patchSamples = 0) : ITrainingObjective
{
    public nn.Module Model => model;

    public nn.Module CreateLike() => new BGptLMHeadModel(model.Config);

    public ITrainingObjective On(nn.Module other) => new LanguageModelObjective((BGptLMHeadModel)other, patchSamples);

    // Validation always scores every patch; only training samples them.
    public Tensor TrainingLoss(TrainingBatch batch) => model.Loss(batch.TokenTensor(), batch.MaskTensor(), patchSamples);

    public void Evaluate(TrainingBatch batch, EvaluationTotals totals)
    {
        // Loss is a mean over every byte of every predicted patch: each real patch but a row's first is predicted.
        long bytes = batch.RealPatches.Sum(p => (long)(p - 1)) * batch.PatchSize;
        totals.LossSum += model.Loss(batch.TokenTensor(), batch.MaskTensor()).to_type(ScalarType.Float64).item<double>() * bytes;
        totals.Count += bytes;
    }

    public (double Loss, double? Accuracy, double? BitsPerByte) Summarize(EvaluationTotals totals)
    {
        double loss = totals.LossSum / totals.Count;
        return (loss, null, loss / Math.Log(2));
    }

    public bool IsBetter(EpochMetrics candidate, EpochMetrics best) => candidate.ValidationLoss < best.ValidationLoss;

    public bool IsAsGood(EpochMetrics candidate, EpochMetrics best, int validationCount) => false;
}
