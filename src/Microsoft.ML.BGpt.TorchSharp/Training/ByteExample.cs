namespace Microsoft.ML.BGpt.Training;

/// <summary>One training or validation file held in memory.</summary>
/// <param name="Content">The file's bytes.</param>
/// <param name="Extension">
/// The extension bytes bGPT sees in its first patch (see <see cref="ByteEncoder.ExtensionBytes"/>); longer input is cut
/// to the patch size. Empty for none.
/// </param>
/// <param name="Label">The class index in [0, label count) for classification; ignored (and -1 by convention) for pretraining.</param>
public sealed record ByteExample(ReadOnlyMemory<byte> Content, ReadOnlyMemory<byte> Extension, int Label = -1)
{
    /// <summary>
    /// Where the file comes from (a speaker, a source package, a document), or null. When training files have groups, a
    /// validation share split off them holds out whole groups, so validation measures what unseen sources will get
    /// (the best epoch is chosen on it). Never seen by the model.
    /// </summary>
    public string? Group { get; init; }

    /// <summary>An example whose extension is taken from a file name, as the original does.</summary>
    public static ByteExample FromFile(string fileName, ReadOnlyMemory<byte> content, int label = -1) =>
        new(content, ByteEncoder.ExtensionBytes(ByteEncoder.ExtensionOf(fileName), int.MaxValue), label);
}
