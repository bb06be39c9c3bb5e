namespace Microsoft.ML.BGpt;

/// <summary>
/// How a file longer than the patch budget (<see cref="BGptConfig.PatchLength"/> patches) is cut.
/// Positions are counted in the full encoded sequence: extension patch, bytes, padding, end patch.
/// </summary>
public enum TruncationStrategy
{
    /// <summary>Keep the first patches (the original's inference, <c>bytes[:PATCH_LENGTH*PATCH_SIZE]</c>): the end patch is lost.</summary>
    Head = 0,

    /// <summary>Keep the last patches (the original's "tail" choice): the extension patch is lost, the end patch kept.</summary>
    Tail = 1,

    /// <summary>
    /// Keep the first half of the patch budget (extension patch included) and the last half (end patch
    /// included): both the file's header and its ending are seen. Not in the original.
    /// </summary>
    HeadTail = 2,

    /// <summary>
    /// The original's training truncation: a uniformly random choice of head, body (a random window that starts
    /// after the extension patch) or tail, drawn from the caller's seeded <see cref="Random"/>.
    /// </summary>
    RandomCrop = 3,
}
