namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>Which of the original's two models a checkpoint holds.</summary>
public enum BGptCheckpointKind
{
    /// <summary>bGPTLMHeadModel: patch-level decoder plus byte-level decoder (train-gen.py).</summary>
    LanguageModel,
    /// <summary>bGPTForClassification: patch-level decoder plus a linear classifier (train-cls.py).</summary>
    Classifier,
}

/// <summary>File layouts <see cref="BGptCheckpoint.Save"/> can write.</summary>
public enum CheckpointFormat
{
    /// <summary>The original's training checkpoint: torch.save({'model', 'optimizer', 'lr_sched', 'epoch', ...}).</summary>
    TrainingCheckpoint,
    /// <summary>A bare torch.save(model.state_dict()).</summary>
    StateDict,
    /// <summary>A safetensors file with the full state dict and the labels and metadata as string metadata.</summary>
    Safetensors,
}
