namespace Microsoft.ML.BGpt.Training;

/// <summary>Settings of <see cref="ClassifierTrainer"/>.</summary>
public class ClassifierTrainingOptions : BGptTrainingOptions
{
    /// <summary>
    /// Creates the defaults. <see cref="BGptTrainingOptions.LearningRate"/> defaults to 5e-5, suited to fine-tuning a
    /// pretrained checkpoint at batch 8 (the original used 1e-5 at batch 1 on much larger data); from a random
    /// initialisation use about 1e-4 to 3e-4.
    /// </summary>
    public ClassifierTrainingOptions() => LearningRate = 5e-5;

    /// <summary>
    /// Per-class loss weights (length = label count, non-negative): torch's weighted cross-entropy, a weighted mean over
    /// the batch. Only the training loss is weighted; validation loss and accuracy are not. Default null (all 1).
    /// </summary>
    public float[]? ClassWeights { get; set; }

    /// <summary>
    /// Weight classes by inverse frequency in the training data (n / (classes x count), as scikit-learn's "balanced"),
    /// so rare classes count as much as common ones. Not together with <see cref="ClassWeights"/>. Default false.
    /// </summary>
    public bool BalanceClasses { get; set; }

    /// <summary>Label names in index order, stored in written checkpoints (the original's 'labels'). Default null (LABEL_0, LABEL_1, ...).</summary>
    public IReadOnlyList<string>? LabelNames { get; set; }

    /// <summary>
    /// How close to the best validation accuracy a later epoch must come to be kept instead, in standard errors of that
    /// accuracy (sqrt(p(1 - p) / n) over the n validation files, p Laplace-smoothed so a perfect score has one too).
    /// The latest epoch within it is kept, and counts as progress for <see cref="BGptTrainingOptions.EarlyStoppingPatience"/>.
    /// A maximum over many epochs of a small validation set is mostly noise, and it can land mid-schedule at a high
    /// learning rate; under a decaying schedule a later epoch that is as good within noise generalises at least as well.
    /// 0 keeps the first epoch of the highest accuracy (ties to the lower loss), as the original does. Default 0; sensible 0 to 2.
    /// </summary>
    public double BestEpochTolerance { get; set; }

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        Require(double.IsFinite(BestEpochTolerance) && BestEpochTolerance >= 0, nameof(BestEpochTolerance), "must be finite and non-negative");
        Require(ClassWeights is null || !BalanceClasses, nameof(BalanceClasses), "cannot be combined with explicit ClassWeights");
        Require(ClassWeights is null || ClassWeights.All(w => float.IsFinite(w) && w >= 0) && ClassWeights.Any(w => w > 0),
            nameof(ClassWeights), "must be finite, non-negative and not all zero");
    }
}
