using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Training;

/// <summary>
/// Trains a bGPT language model (next-byte prediction, the original's train-gen.py loss) on in-memory files, batched
/// with patch masks. Validation reports the loss per byte and bits per byte. The model or weights passed in are
/// never modified: a copy is trained and returned.
/// </summary>
public static class Pretrainer
{
    /// <summary>Continues training a copy of <paramref name="initialModel"/> (with the options' dropout).</summary>
    /// <param name="train">Training files (labels ignored).</param>
    /// <param name="validation">Validation files, or null to hold out <see cref="BGptTrainingOptions.ValidationFraction"/> of <paramref name="train"/>.</param>
    /// <param name="initialModel">The starting point; left unchanged.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <param name="progress">Called after every optimizer step, on the training thread.</param>
    /// <param name="cancellationToken">Checked before every batch; cancelling throws <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="ArgumentException">No training data or an invalid option.</exception>
    /// <exception cref="TrainingDivergedException">The loss or the gradients became NaN or infinite.</exception>
    public static TrainingResult<BGptLMHeadModel> Train(IReadOnlyList<ByteExample> train, IReadOnlyList<ByteExample>? validation,
        BGptLMHeadModel initialModel, PretrainingOptions? options = null, IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(initialModel);
        return Run(train, validation, initialModel.Config, options ?? new(), progress, cancellationToken, config =>
        {
            var model = new BGptLMHeadModel(config);
            TrainerSetup.CopyWeights(initialModel, model);
            return model;
        });
    }

    /// <summary>Trains a language model of <paramref name="config"/> from <paramref name="pretrainedWeights"/> (original key names) or, when null, from a random initialisation drawn from the seed.</summary>
    /// <param name="train">Training files (labels ignored).</param>
    /// <param name="validation">Validation files, or null to hold out a share of <paramref name="train"/>.</param>
    /// <param name="config">The architecture; its dropout is replaced by the options'.</param>
    /// <param name="pretrainedWeights">A language model's weights (e.g. <see cref="BGptCheckpoint.Weights"/>), or null.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <param name="progress">Called after every optimizer step, on the training thread.</param>
    /// <param name="cancellationToken">Checked before every batch.</param>
    public static TrainingResult<BGptLMHeadModel> Train(IReadOnlyList<ByteExample> train, IReadOnlyList<ByteExample>? validation,
        BGptConfig config, IReadOnlyDictionary<string, TensorData>? pretrainedWeights, PretrainingOptions? options = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        options ??= new();
        return Run(train, validation, config, options, progress, cancellationToken,
            c => TrainerSetup.Build(() => new BGptLMHeadModel(c), pretrainedWeights, key => key == TrainerSetup.PatchWte,
                options.ByteValueSmoothing, m => m.PatchDecoder));
    }

    /// <summary>
    /// Next-byte loss (nats per predicted byte) and bits per byte of <paramref name="model"/> on files, in eval mode,
    /// in padded length-sorted batches of <paramref name="batchSize"/> with patch masks.
    /// </summary>
    public static Evaluation Evaluate(BGptLMHeadModel model, IReadOnlyList<ByteExample> examples, int batchSize = 8,
        TruncationStrategy truncation = TruncationStrategy.Head, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (truncation == TruncationStrategy.RandomCrop) throw new ArgumentException("Evaluation must be repeatable: use Head, Tail or HeadTail.", nameof(truncation));
        TrainerSetup.CheckData(examples, null, labelCount: null, "evaluation");
        return Evaluation.Run(new LanguageModelObjective(model), new ExampleBatcher(examples, model.Config, batchSize), truncation, cancellationToken);
    }

    private static TrainingResult<BGptLMHeadModel> Run(IReadOnlyList<ByteExample> train, IReadOnlyList<ByteExample>? validation,
        BGptConfig config, PretrainingOptions options, IProgress<TrainingProgress>? progress, CancellationToken ct,
        Func<BGptConfig, BGptLMHeadModel> create)
    {
        options.Validate();
        TrainerSetup.CheckData(train, validation, labelCount: null);
        ct.ThrowIfCancellationRequested();

        using var settings = new TorchSettingsScope(options.Threads);
        manual_seed(Seeds.Derive(options.Seed, Seeds.Initialization));
        var runConfig = config with { Dropout = options.Dropout };
        var model = create(runConfig);
        // Labels play no part in language modelling: split as one group.
        var unlabelled = train.Select(e => e with { Label = -1 }).ToList();
        var (trainPart, validationPart) = DataSplit.Split(unlabelled, validation, options.ValidationFraction, options.Seed);
        var loop = new TrainingLoop(new LanguageModelObjective(model, options.PatchSamplingBatchSize), runConfig, options, labels: null);
        return TrainerSetup.Own(model, () => loop.Run(trainPart, validationPart, progress, ct));
    }
}
