namespace Microsoft.ML.BGpt.Training;

/// <summary>Settings of <see cref="Pretrainer"/> (next-byte language modelling).</summary>
public class PretrainingOptions : BGptTrainingOptions
{
    /// <summary>
    /// Creates the defaults. <see cref="BGptTrainingOptions.LearningRate"/> defaults to 1e-4, the original's generation
    /// training rate; for continuing a pretrained model on a small corpus, 2e-5 to 5e-5 disturbs it less.
    /// </summary>
    public PretrainingOptions() => LearningRate = 1e-4;

    /// <summary>
    /// The original's PATCH_SAMPLING_BATCH_SIZE: the number of predicted patches per batch whose bytes the byte-level
    /// decoder is trained on, drawn at random (seeded) from all of the batch's; 0 trains on every patch, as the
    /// original's default. The byte-level decoder costs about (P + 1) times the patch decoder per patch, so sampling
    /// cuts most of pretraining's cost while the patch-level decoder still learns from every patch's context.
    /// Default 0; sensible 0 or 16 to 1024.
    /// </summary>
    public int PatchSamplingBatchSize { get; set; }

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Require(PatchSamplingBatchSize >= 0, nameof(PatchSamplingBatchSize), $"must be 0 (every patch) or positive (got {PatchSamplingBatchSize})");
    }
}
