namespace Microsoft.ML.BGpt.Training;

/// <summary>
/// Settings shared by <see cref="ClassifierTrainer"/> and <see cref="Pretrainer"/>. Every setting is a plain
/// settable property so a hyperparameter sweeper can set it; each documents its default and a sensible range.
/// The optimizer is AdamW with torch's defaults (betas 0.9 / 0.999, eps 1e-8), as in the original.
/// </summary>
public abstract class BGptTrainingOptions
{
    /// <summary>Passes over the training data. Default 3; sensible 1 to 50.</summary>
    public int Epochs { get; set; } = 3;

    /// <summary>Files per batch (padded to the longest, with a patch mask). Default 8; sensible 1 to 64, bounded by memory.</summary>
    public int BatchSize { get; set; } = 8;

    /// <summary>Peak AdamW learning rate (reached after warm-up). Default set by the derived options; sensible 1e-6 to 1e-3 (log scale).</summary>
    public double LearningRate { get; set; }

    /// <summary>AdamW decoupled weight decay, applied to every parameter as in the original. Default 0.01; sensible 0 to 0.1.</summary>
    public double WeightDecay { get; set; } = 0.01;

    /// <summary>
    /// Fraction of all optimizer steps spent warming the learning rate up linearly; the rest follows a cosine decay
    /// towards 0 (transformers' cosine schedule, which the original meant to use). Default 0.1; range [0, 1).
    /// </summary>
    public double WarmupFraction { get; set; } = 0.1;

    /// <summary>Batches whose gradients are summed (averaged) before each optimizer step: effective batch = BatchSize x this. Default 1; sensible 1 to 32.</summary>
    public int GradientAccumulationSteps { get; set; } = 1;

    /// <summary>
    /// Dropout probability of embeddings, attention and residuals while training (GPT-2's 0.1, the original's).
    /// The trained model is a copy built with this value. Default 0.1; valid [0, 1), sensible 0 to 0.5.
    /// </summary>
    public double Dropout { get; set; } = 0.1;

    /// <summary>
    /// Share of the training data held out (with <see cref="Seed"/>; per class for classification) for validation
    /// when no validation list is passed to Train. 0 turns validation off. Default 0.1; valid [0, 1), sensible 0 to 0.5.
    /// </summary>
    public double ValidationFraction { get; set; } = 0.1;

    /// <summary>Stop after this many epochs without improvement on the validation data; 0 = never stop early. Needs validation data. Default 2; sensible 0 to 10.</summary>
    public int EarlyStoppingPatience { get; set; } = 2;

    /// <summary>Return the weights of the best validation epoch rather than the last. Needs validation data. Default true.</summary>
    public bool RestoreBestEpoch { get; set; } = true;

    /// <summary>
    /// Seeds everything random: model initialisation, the validation split, shuffling, crops and dropout. The same seed
    /// and data give a bit-identical model (given the same thread count and machine). Default 0.
    /// </summary>
    public int Seed { get; set; }

    /// <summary>How long training files are cut. Default <see cref="TruncationStrategy.RandomCrop"/> (the original's random head/body/tail).</summary>
    public TruncationStrategy TrainTruncation { get; set; } = TruncationStrategy.RandomCrop;

    /// <summary>How long validation files are cut (never random). Default <see cref="TruncationStrategy.Head"/> (the original's evaluation).</summary>
    public TruncationStrategy EvalTruncation { get; set; } = TruncationStrategy.Head;

    /// <summary>torch intra-op threads while training (restored afterwards); null leaves torch's setting. Default null; sensible 1 to the core count.</summary>
    public int? Threads { get; set; }

    /// <summary>
    /// Gradients are rescaled so their global L2 norm is at most this before each step; 0 turns clipping off
    /// (the original does not clip). Clipping keeps one odd batch from wrecking a pretrained model. Default 1.0; sensible 0.1 to 10.
    /// </summary>
    public double MaxGradNorm { get; set; } = 1.0;

    /// <summary>
    /// A training checkpoint written by <see cref="CheckpointPath"/> (or the original's train scripts) to continue from:
    /// weights, AdamW state and the completed epoch count are restored, and training goes on with the next epoch
    /// (with the same options and data that gives the model an uninterrupted run would). Default null.
    /// </summary>
    public string? ResumeFrom { get; set; }

    /// <summary>
    /// Where to write the best model so far, after each improving epoch (every epoch without validation data), in the
    /// original's training-checkpoint layout with AdamW state. Written through a temporary file and a move, so the file
    /// is always a complete, last-good checkpoint. Default null (nothing written).
    /// </summary>
    public string? CheckpointPath { get; set; }

    /// <summary>
    /// A wall-clock budget for the epochs of this run, or null for none. After each epoch the run keeps only the
    /// remaining epochs that fit the time left at its average epoch time so far (validation included), at least the
    /// one just finished, and re-plans the warm-up/cosine schedule over the new total so the learning rate still
    /// decays to 0 at the end. <see cref="Epochs"/> is then an upper bound. A budget makes the epoch count depend on
    /// the machine's speed, so two runs with the same seed can differ. Default null; sensible minutes to hours.
    /// </summary>
    public TimeSpan? MaxTrainingTime { get; set; }

    /// <summary>
    /// Arithmetic of the forward and backward passes. <see cref="TrainingPrecision.Float32"/> (the default) is the
    /// original's. <see cref="TrainingPrecision.BFloat16Mixed"/> runs them on a bfloat16 copy of the model (1.5–2.4x
    /// faster for the paper's model on CPUs with AVX512-BF16 or AMX, docs/benchmarks.md), with float32 master weights,
    /// gradients, AdamW state, losses and validation; checkpoints and the exported model stay float32. Small models
    /// (hidden 128) gain little: their time is not in matrix products.
    /// </summary>
    public TrainingPrecision Precision { get; set; } = TrainingPrecision.Float32;

    /// <summary>
    /// Shift augmentation: each epoch, every training file gets up to this many bytes inserted (copies of the byte
    /// there) or deleted at one random position, so everything after it moves by a few bytes against the patch grid
    /// (a small translation of an image's pixel rows, a time shift of audio, a typo in text). 0 turns it off. Default 0.
    /// </summary>
    public int ByteShift { get; set; }

    /// <summary>
    /// Resampling augmentation for sampled signals (8-bit PCM audio and other data whose byte values are quantities):
    /// each epoch, every training file is resampled by its own random factor between 1 / (1 + this) and 1 + this, by
    /// linear interpolation between neighbouring byte values, so it plays faster or slower, and higher or lower (speed
    /// perturbation: what differs between speakers' voices). The whole file is resampled, a header too (a WAV's 44 bytes
    /// vary in training and are read as they are in validation and prediction; they say nothing about the class).
    /// Meaningless for bytes that are codes (text, compressed or binary formats). 0 turns it off. Default 0; sensible
    /// 0.05 to 0.2 for signals.
    /// </summary>
    public double Resampling { get; set; }

    /// <summary>
    /// When positive, a model trained from scratch (no starting weights) starts with its patch embedding blurred along
    /// the byte value by a Gaussian of this width (<see cref="Modeling.PatchEmbedding.SmoothAlongByteValues"/>), so
    /// neighbouring byte values start close: for sampled signals, where byte 130 means nearly what 131 does. Loaded or
    /// pretrained weights are never changed. 0 keeps the original's i.i.d. start. Default 0; sensible 2 to 8 for signals.
    /// </summary>
    public double ByteValueSmoothing { get; set; }

    /// <summary>Development hook (the Experiments tool): called after each epoch's validation with the model being trained.</summary>
    internal Action<int, TorchSharp.torch.nn.Module>? AfterEpoch { get; set; }

    /// <summary>A member-wise copy, so a Fit can fill in settings without changing the caller's object.</summary>
    internal T CopyAs<T>() where T : BGptTrainingOptions => (T)MemberwiseClone();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public virtual void Validate()
    {
        Require(Epochs >= 1, nameof(Epochs), $"must be at least 1 (got {Epochs})");
        Require(BatchSize >= 1, nameof(BatchSize), $"must be at least 1 (got {BatchSize})");
        Require(double.IsFinite(LearningRate) && LearningRate > 0, nameof(LearningRate), $"must be positive and finite (got {LearningRate})");
        Require(double.IsFinite(WeightDecay) && WeightDecay >= 0, nameof(WeightDecay), $"must be non-negative (got {WeightDecay})");
        Require(WarmupFraction >= 0 && WarmupFraction < 1, nameof(WarmupFraction), $"must be in [0, 1) (got {WarmupFraction})");
        Require(GradientAccumulationSteps >= 1, nameof(GradientAccumulationSteps), $"must be at least 1 (got {GradientAccumulationSteps})");
        Require(double.IsFinite(ByteValueSmoothing) && ByteValueSmoothing >= 0, nameof(ByteValueSmoothing), $"must be non-negative; 0 turns it off (got {ByteValueSmoothing})");
        Require(ByteShift >= 0, nameof(ByteShift), $"must be non-negative (got {ByteShift})");
        Require(double.IsFinite(Resampling) && Resampling is >= 0 and <= 1, nameof(Resampling), $"must be in [0, 1]; 0 turns it off (got {Resampling})");
        Require(Dropout >= 0 && Dropout < 1, nameof(Dropout), $"must be in [0, 1) (got {Dropout})");
        Require(ValidationFraction >= 0 && ValidationFraction < 1, nameof(ValidationFraction), $"must be in [0, 1) (got {ValidationFraction})");
        Require(EarlyStoppingPatience >= 0, nameof(EarlyStoppingPatience), $"must be non-negative (got {EarlyStoppingPatience})");
        Require(EvalTruncation != TruncationStrategy.RandomCrop, nameof(EvalTruncation), "must not be RandomCrop: validation must be repeatable");
        Require(Enum.IsDefined(TrainTruncation) && Enum.IsDefined(EvalTruncation), nameof(TrainTruncation), "must be a defined TruncationStrategy");
        Require(Threads is null || Threads >= 1, nameof(Threads), $"must be null or at least 1 (got {Threads})");
        Require(double.IsFinite(MaxGradNorm) && MaxGradNorm >= 0, nameof(MaxGradNorm), $"must be non-negative; 0 turns clipping off (got {MaxGradNorm})");
        Require(MaxTrainingTime is null || MaxTrainingTime > TimeSpan.Zero, nameof(MaxTrainingTime), $"must be null or positive (got {MaxTrainingTime})");
        Require(Enum.IsDefined(Precision), nameof(Precision), $"must be a defined TrainingPrecision (got {Precision})");
        Require(ResumeFrom is null || File.Exists(ResumeFrom), nameof(ResumeFrom), $"file '{ResumeFrom}' does not exist");
    }

    /// <summary>Throws <see cref="ArgumentException"/> with the option's name unless <paramref name="ok"/>.</summary>
    protected void Require(bool ok, string name, string message)
    {
        if (!ok) throw new ArgumentException($"{GetType().Name}.{name} {message}.", name);
    }
}
