using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Training;

/// <summary>
/// Fine-tunes (or trains) a bGPT classifier on in-memory files, as the original's train-cls.py but batched with
/// patch masks, with a real warm-up/cosine schedule, validation, early stopping and checkpoints.
/// Training never modifies the model or weights passed in: it trains a copy, which the result returns.
/// </summary>
public static class ClassifierTrainer
{
    /// <summary>Trains a copy of <paramref name="initialModel"/> (its label count, its weights, the options' dropout).</summary>
    /// <param name="train">Training files with labels in [0, initialModel.LabelCount).</param>
    /// <param name="validation">Validation files, or null to hold out <see cref="BGptTrainingOptions.ValidationFraction"/> of <paramref name="train"/>.</param>
    /// <param name="initialModel">The starting point; left unchanged.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <param name="progress">Called after every optimizer step, on the training thread.</param>
    /// <param name="cancellationToken">Checked before every batch; cancelling throws <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="ArgumentException">No training data, a label out of range, fewer than two classes or an invalid option.</exception>
    /// <exception cref="TrainingDivergedException">The loss or the gradients became NaN or infinite.</exception>
    public static TrainingResult<BGptClassifier> Train(IReadOnlyList<ByteExample> train, IReadOnlyList<ByteExample>? validation,
        BGptClassifier initialModel, ClassifierTrainingOptions? options = null, IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(initialModel);
        return Run(train, validation, initialModel.LabelCount, initialModel.Config, options ?? new(), progress, cancellationToken,
            config => CopyOf(initialModel, config));
    }

    /// <summary>
    /// Trains a classifier with <paramref name="labelCount"/> outputs from <paramref name="config"/>, starting from
    /// <paramref name="pretrainedWeights"/> (original key names) when given: the patch-level decoder of a language model
    /// or classifier checkpoint. A classifier head with the same label count is kept; otherwise the head starts fresh.
    /// </summary>
    /// <param name="train">Training files with labels in [0, <paramref name="labelCount"/>).</param>
    /// <param name="validation">Validation files, or null to hold out a share of <paramref name="train"/>.</param>
    /// <param name="labelCount">Number of classes, at least 2.</param>
    /// <param name="config">The architecture (e.g. <see cref="BGptCheckpoint.Config"/>); its dropout is replaced by the options'.</param>
    /// <param name="pretrainedWeights">Starting weights (e.g. <see cref="BGptCheckpoint.Weights"/>), or null for a random initialisation from the seed.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <param name="progress">Called after every optimizer step, on the training thread.</param>
    /// <param name="cancellationToken">Checked before every batch.</param>
    public static TrainingResult<BGptClassifier> Train(IReadOnlyList<ByteExample> train, IReadOnlyList<ByteExample>? validation,
        int labelCount, BGptConfig config, IReadOnlyDictionary<string, TensorData>? pretrainedWeights,
        ClassifierTrainingOptions? options = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        var weights = pretrainedWeights;
        if (weights is not null && weights.TryGetValue("classifier.weight", out var head) && head.Shape[0] != labelCount)
            weights = weights.Where(kv => !kv.Key.StartsWith("classifier.", StringComparison.Ordinal)).ToDictionary();
        options ??= new();
        return Run(train, validation, labelCount, config, options, progress, cancellationToken,
            c => TrainerSetup.Build(() => new BGptClassifier(c, labelCount), weights,
                key => key == TrainerSetup.PatchWte || key.StartsWith("classifier.", StringComparison.Ordinal),
                options.ByteValueSmoothing, m => m.PatchDecoder));
    }

    private static TrainingResult<BGptClassifier> Run(IReadOnlyList<ByteExample> train, IReadOnlyList<ByteExample>? validation,
        int labelCount, BGptConfig config, ClassifierTrainingOptions options, IProgress<TrainingProgress>? progress,
        CancellationToken ct, Func<BGptConfig, BGptClassifier> create)
    {
        options.Validate();
        if (labelCount < 2) throw new ArgumentOutOfRangeException(nameof(labelCount), labelCount, "A classifier needs at least two classes to learn anything.");
        if (options.ClassWeights is { } w && w.Length != labelCount)
            throw new ArgumentException($"ClassifierTrainingOptions.ClassWeights has {w.Length} entries but there are {labelCount} classes.", nameof(options));
        if (options.LabelNames is { } names && names.Count != labelCount)
            throw new ArgumentException($"ClassifierTrainingOptions.LabelNames has {names.Count} entries but there are {labelCount} classes.", nameof(options));
        TrainerSetup.CheckData(train, validation, labelCount);
        ct.ThrowIfCancellationRequested();

        using var settings = new TorchSettingsScope(options.Threads);
        manual_seed(Seeds.Derive(options.Seed, Seeds.Initialization));
        var runConfig = config with { Dropout = options.Dropout };
        var model = create(runConfig);
        var (trainPart, validationPart) = DataSplit.Split(train, validation, options.ValidationFraction, options.Seed);
        var weights = options.BalanceClasses ? DataSplit.BalancedWeights(trainPart, labelCount) : options.ClassWeights;
        var loop = new TrainingLoop(new ClassifierObjective(model, weights, options.BestEpochTolerance), runConfig, options, options.LabelNames);
        return TrainerSetup.Own(model, () => loop.Run(trainPart, validationPart, progress, ct));
    }

    /// <summary>
    /// Loss and accuracy of <paramref name="model"/> on labelled files, in eval mode, in padded length-sorted batches of
    /// <paramref name="batchSize"/> with patch masks (the same result as one file at a time, up to float rounding).
    /// </summary>
    public static Evaluation Evaluate(BGptClassifier model, IReadOnlyList<ByteExample> examples, int batchSize = 8,
        TruncationStrategy truncation = TruncationStrategy.Head, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (truncation == TruncationStrategy.RandomCrop) throw new ArgumentException("Evaluation must be repeatable: use Head, Tail or HeadTail.", nameof(truncation));
        TrainerSetup.CheckData(examples, null, model.LabelCount, "evaluation");
        return Evaluation.Run(new ClassifierObjective(model, null), new ExampleBatcher(examples, model.Config, batchSize), truncation, cancellationToken);
    }

    private static BGptClassifier CopyOf(BGptClassifier source, BGptConfig config)
    {
        var model = new BGptClassifier(config, source.LabelCount);
        TrainerSetup.CopyWeights(source, model);
        return model;
    }
}
