using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>
/// bGPT for classification: the mean of the patch-level decoder's features over the patches, then a linear head.
/// </summary>
public sealed class BGptClassifier : nn.Module
{
    private readonly PatchLevelDecoder patch_level_decoder;
    private readonly Linear classifier;

    /// <summary>A randomly initialised classifier (the original's init) for <paramref name="labels"/> classes.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="labels"/> is below 1.</exception>
    public BGptClassifier(BGptConfig config, int labels) : base(nameof(BGptClassifier))
    {
        if (labels < 1) throw new ArgumentOutOfRangeException(nameof(labels), labels, "A classifier needs at least one label.");
        Config = config.Validate();
        patch_level_decoder = new PatchLevelDecoder(config);
        classifier = nn.Linear(config.HiddenSize, labels);
        using (no_grad()) nn.init.normal_(classifier.weight!, 0, 0.02);
        RegisterComponents();
        this.OwnTensors();
    }

    /// <summary>The architecture.</summary>
    public BGptConfig Config { get; }

    /// <summary>Number of classes (rows of the linear head).</summary>
    public int LabelCount => (int)classifier.weight!.shape[0];
    /// <summary>The patch-level decoder whose mean-pooled features the head reads.</summary>
    public PatchLevelDecoder PatchDecoder => patch_level_decoder;

    /// <summary>
    /// Mean-pooled patch features [B, H]. With <paramref name="patchMask"/>, padding patches are neither attended
    /// to nor averaged, so a padded batch gives each row's unpadded result. Without it, every patch counts, as in
    /// the original (which has no mask here).
    /// </summary>
    public Tensor Features(Tensor patches, Tensor? patchMask = null)
    {
        using var scope = NewDisposeScope();
        var hidden = patch_level_decoder.forward(patches, patchMask);                    // [B, N, H]
        if (patchMask is null) return hidden.mean(new long[] { 1 }).MoveToOuterDisposeScope();
        var weights = patchMask.to_type(hidden.dtype).unsqueeze(2);                      // [B, N, 1]
        return ((hidden * weights).sum(1) / weights.sum(1)).MoveToOuterDisposeScope();   // [B, H]
    }

    /// <summary>Logits [B, labels].</summary>
    public Tensor forward(Tensor patches, Tensor? patchMask = null)
    {
        using var pooled = Features(patches, patchMask);
        return classifier.forward(pooled);
    }
}
