namespace Microsoft.ML.BGpt.Training;

/// <summary>The arithmetic of training's forward and backward passes (<see cref="BGptTrainingOptions.Precision"/>).</summary>
public enum TrainingPrecision
{
    /// <summary>float32 throughout, as the original.</summary>
    Float32,

    /// <summary>
    /// Forward and backward on a bfloat16 copy of the model; float32 master weights, gradients, AdamW and losses.
    /// TorchSharp 0.107 has no autocast, so unlike torch.autocast, LayerNorm and softmax also run in bfloat16.
    /// </summary>
    BFloat16Mixed,
}
