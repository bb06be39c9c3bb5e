namespace Microsoft.ML.BGpt;

/// <summary>
/// What the Auto recipe reads from a sample of the training files' bytes before it chooses the patch size
/// (<see cref="BGptAutoRecipe.ChooseConfig"/>); no file format is named, only the bytes' structure.
/// </summary>
/// <param name="RecordStride">
/// The byte stride of fixed-size records most files share (<see cref="BGptAutoRecipe.DetectRecordStride"/>: raw image
/// rows, binary tables), which becomes the patch size; null when there is none.
/// </param>
/// <param name="SmoothSignal">
/// Whether most files read as a sampled signal (<see cref="BGptAutoRecipe.IsSmoothSignal"/>: 8-bit audio, smooth traces),
/// which get wider patches.
/// </param>
public sealed record BGptDataTraits(int? RecordStride = null, bool SmoothSignal = false)
{
    /// <summary>No record stride, not a signal: the patch size follows the window alone.</summary>
    public static BGptDataTraits None { get; } = new();

    /// <summary>Reads both traits from <paramref name="sample"/> (a few dozen training files, as the Auto probe takes them).</summary>
    public static BGptDataTraits Detect(IReadOnlyList<ReadOnlyMemory<byte>> sample) =>
        new(BGptAutoRecipe.DetectRecordStride(sample), BGptAutoRecipe.IsSmoothSignal(sample));

    /// <summary>For logs and reports: "record stride 28 B; smooth signal: no".</summary>
    public override string ToString() =>
        $"record stride {(RecordStride is { } s ? $"{s} B" : "none")}; smooth signal: {(SmoothSignal ? "yes" : "no")}";
}
