namespace Microsoft.ML.BGpt;

/// <summary>How the patch-level decoder's per-patch hidden states become one feature vector.</summary>
public enum FeaturePooling
{
    /// <summary>The mean over the patches (default): the original's pooling in bGPTForClassification.</summary>
    Mean = 0,

    /// <summary>
    /// The hidden state of the last patch. Attention is causal, so it is the only one that has seen the whole
    /// (possibly truncated) sequence; for an untruncated file (or a window) it is the end patch's feature.
    /// </summary>
    LastPatch = 1,
}

/// <summary>What an exported graph does with a file longer than the patch budget.</summary>
public enum LongFileStrategy
{
    /// <summary>Cut it to <see cref="BGptConfig.PatchLength"/> patches with a <see cref="TruncationStrategy"/> (default).</summary>
    Truncate = 0,

    /// <summary>
    /// Split the content into consecutive windows of (PatchLength - 2) x PatchSize bytes, encode each like a whole
    /// file (extension patch, the window's bytes padded with 256, end patch: at most PatchLength patches), run them
    /// through the patch-level decoder as one batch, pool each window, and average the pooled features over at most
    /// a given number of evenly spaced windows. A file that fits the budget is one window: the truncation result.
    /// </summary>
    WindowMean = 1,
}
