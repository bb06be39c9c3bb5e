using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>
/// bGPT as a language model over bytes: the patch-level decoder gives a feature per patch, and the
/// byte-level decoder predicts the next patch's bytes from it.
/// </summary>
public sealed class BGptLMHeadModel : nn.Module
{
    private readonly PatchLevelDecoder patch_level_decoder;
    private readonly ByteLevelDecoder byte_level_decoder;

    /// <summary>A randomly initialised language model (the original's init).</summary>
    public BGptLMHeadModel(BGptConfig config) : base(nameof(BGptLMHeadModel))
    {
        Config = config.Validate();
        patch_level_decoder = new PatchLevelDecoder(config);
        byte_level_decoder = new ByteLevelDecoder(config);
        RegisterComponents();
        this.OwnTensors();
    }

    /// <summary>The architecture.</summary>
    public BGptConfig Config { get; }

    /// <summary>The patch-level decoder: one feature per patch.</summary>
    public PatchLevelDecoder PatchDecoder => patch_level_decoder;

    /// <summary>The byte-level decoder: the next patch's bytes from each patch feature.</summary>
    public ByteLevelDecoder ByteDecoder => byte_level_decoder;

    /// <summary>
    /// The original's LM loss (mean cross-entropy in nats over every byte of every predicted patch): the feature
    /// of each real patch but the last predicts the bytes of the patch after it. Padding 256 and the end patch
    /// are targets; the extension patch never is. Unlike the original, <paramref name="patchMask"/> is not modified.
    /// </summary>
    /// <param name="patches">[B, N * P] tokens, right-padded with 256.</param>
    /// <param name="patchMask">[B, N], 1 for real patches then 0 for padding; null when all are real.</param>
    /// <param name="patchSamples">
    /// The original's PATCH_SAMPLING_BATCH_SIZE: when positive and smaller than the number of predicted patches in
    /// the batch, the byte-level decoder sees only this many of them, drawn uniformly without replacement from
    /// torch's generator (a cheaper, unbiased estimate of the same loss, for training). 0 = every patch.
    /// </param>
    public Tensor Loss(Tensor patches, Tensor? patchMask = null, int patchSamples = 0)
    {
        using var scope = NewDisposeScope();
        var (features, targets) = FeaturesAndTargets(patches, patchMask);
        if (patchSamples > 0 && patchSamples < features.shape[0])
        {
            var chosen = randperm(features.shape[0], device: features.device).narrow(0, 0, patchSamples).sort().Values; // [S]
            (features, targets) = (features.index_select(0, chosen), targets.index_select(0, chosen));
        }
        return byte_level_decoder.Loss(features, targets).MoveToOuterDisposeScope();
    }

    /// <summary>Teacher-forced byte logits of every predicted patch: [M, P + 1, 257] (the original's lm logits).</summary>
    public Tensor ByteLogits(Tensor patches, Tensor? patchMask = null)
    {
        using var scope = NewDisposeScope();
        var (features, targets) = FeaturesAndTargets(patches, patchMask);
        return byte_level_decoder.forward(features, targets).MoveToOuterDisposeScope();
    }

    /// <summary>Selected patch features [M, H] and the patches they predict [M, P].</summary>
    private (Tensor Features, Tensor Targets) FeaturesAndTargets(Tensor patches, Tensor? patchMask)
    {
        int p = Config.PatchSize;
        var tokens = PatchLevelDecoder.Tokens(patches, p);                                // [B, N, P], checked
        long n = tokens.shape[1];
        var mask = patchMask?.to_type(ScalarType.Bool) ?? ones(tokens.shape[0], n, ScalarType.Bool, tokens.device);
        var hidden = patch_level_decoder.forward(tokens, patchMask is null ? null : mask); // [B, N, H]
        // Patch i predicts patch i + 1, so sources are real patches that have a real successor, and targets
        // are real patches but the first (the original's left_shift_masks and masks[:, 0] = 0).
        var source = mask.narrow(1, 0, n - 1).logical_and(mask.narrow(1, 1, n - 1));     // [B, N - 1]
        var features = hidden.narrow(1, 0, n - 1)[source];                               // [M, H]
        var targets = tokens.narrow(1, 1, n - 1)[source];                                // [M, P]
        return (features, targets);
    }
}
