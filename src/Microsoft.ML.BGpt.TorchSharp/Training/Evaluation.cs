using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Training;

/// <summary>How well a model does on a set of files.</summary>
/// <param name="Loss">Mean cross-entropy in nats: per file for classification, per predicted byte for language modelling.</param>
/// <param name="Accuracy">Share of files classified correctly (classification), or null.</param>
/// <param name="BitsPerByte">Loss / ln 2 (language modelling), or null.</param>
/// <param name="Examples">Files evaluated.</param>
public sealed record Evaluation(double Loss, double? Accuracy, double? BitsPerByte, int Examples)
{
    /// <summary>Evaluates in eval mode without gradients, in length-sorted padded batches (the result does not depend on the batch size).</summary>
    internal static Evaluation Run(ITrainingObjective objective, ExampleBatcher batches, TruncationStrategy truncation, CancellationToken ct)
    {
        if (batches.Count == 0) throw new ArgumentException("There are no examples to evaluate.");
        bool wasTraining = objective.Model.training;
        objective.Model.eval();
        var totals = new EvaluationTotals();
        try
        {
            using var _ = no_grad();
            foreach (var batch in batches.Batches(truncation, random: null))
            {
                ct.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                objective.Evaluate(batch, totals);
            }
        }
        finally
        {
            objective.Model.train(wasTraining);
        }
        var (loss, accuracy, bitsPerByte) = objective.Summarize(totals);
        return new Evaluation(loss, accuracy, bitsPerByte, batches.Count);
    }
}
