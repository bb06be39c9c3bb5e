namespace Microsoft.ML.BGpt;

/// <summary>Options of <c>mlContext.Transforms.FeaturizeBGpt</c>.</summary>
public sealed class BGptFeaturizerOptions
{
    /// <summary>A pretrained bGPT checkpoint: the original's <c>.pth</c> (LM or classifier) or <c>.safetensors</c>. Required.</summary>
    public string CheckpointPath { get; set; } = "";

    /// <summary>Output column: <c>Vector&lt;float&gt;</c> of the hidden size. Default "Features".</summary>
    public string OutputColumnName { get; set; } = "Features";

    /// <summary>Input column of file bytes (a vector of Byte). Default "Bytes".</summary>
    public string BytesColumnName { get; set; } = "Bytes";

    /// <summary>Input column of extension bytes (a vector of Byte, the UTF-8 text after the name's last dot). Default "Extension".</summary>
    public string ExtensionColumnName { get; set; } = "Extension";

    /// <summary>
    /// How files longer than the model's patch budget are cut: <see cref="TruncationStrategy.Head"/> (default, the
    /// original's inference), <see cref="TruncationStrategy.HeadTail"/> (start and end) or <see cref="TruncationStrategy.Tail"/>.
    /// </summary>
    public TruncationStrategy Truncation { get; set; } = TruncationStrategy.Head;

    /// <summary>ONNX Runtime intra-op threads; null (default) lets ONNX Runtime use every physical core.</summary>
    public int? Threads { get; set; }
}

/// <summary>Options of <c>mlContext.Transforms.ScoreBitsPerByte</c>.</summary>
public sealed class BGptBitsPerByteOptions
{
    /// <summary>A bGPT language-model checkpoint (<c>.pth</c> or <c>.safetensors</c>, with the byte-level decoder). Required.</summary>
    public string CheckpointPath { get; set; } = "";

    /// <summary>
    /// Output column: <c>Vector&lt;float&gt;</c> of size 1 holding the file's bits per byte, i.e. the original's LM
    /// loss (mean cross-entropy over every predicted symbol, padding and end patch included) divided by ln 2.
    /// Default "BitsPerByte".
    /// </summary>
    public string OutputColumnName { get; set; } = "BitsPerByte";

    /// <summary>Input column of file bytes. Default "Bytes".</summary>
    public string BytesColumnName { get; set; } = "Bytes";

    /// <summary>Input column of extension bytes. Default "Extension".</summary>
    public string ExtensionColumnName { get; set; } = "Extension";

    /// <summary>How long files are cut (default <see cref="TruncationStrategy.Head"/>).</summary>
    public TruncationStrategy Truncation { get; set; } = TruncationStrategy.Head;

    /// <summary>ONNX Runtime intra-op threads; null (default) lets ONNX Runtime decide.</summary>
    public int? Threads { get; set; }
}
