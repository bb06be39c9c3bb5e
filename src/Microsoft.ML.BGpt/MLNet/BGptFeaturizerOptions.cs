namespace Microsoft.ML.BGpt;

/// <summary>Options of <c>mlContext.Transforms.FeaturizeBGpt</c>.</summary>
public sealed class BGptFeaturizerOptions
{
    /// <summary>
    /// A pretrained bGPT checkpoint: the original's <c>.pth</c> (LM or classifier) or <c>.safetensors</c>; or an <c>.onnx</c>
    /// graph exported by <c>bgpt export-onnx</c> (served as exported: its truncation and pooling apply, and serving needs
    /// less memory). Required.
    /// </summary>
    public string CheckpointPath { get; set; } = "";

    /// <summary>Output column: <c>Vector&lt;float&gt;</c> of the hidden size. Default "Features".</summary>
    public string OutputColumnName { get; set; } = "Features";

    /// <summary>Input column of file bytes (a vector of Byte). Default "Bytes".</summary>
    public string BytesColumnName { get; set; } = "Bytes";

    /// <summary>Input column of extension bytes (a vector of Byte, the UTF-8 text after the name's last dot). Default "Extension".</summary>
    public string ExtensionColumnName { get; set; } = "Extension";

    /// <summary>
    /// How the per-patch features become the output vector: <see cref="FeaturePooling.Mean"/> (default, the original
    /// classifier's pooling) or <see cref="FeaturePooling.LastPatch"/> (the last patch's feature, which in this causal
    /// model has seen the whole sequence).
    /// </summary>
    public FeaturePooling Pooling { get; set; } = FeaturePooling.Mean;

    /// <summary>
    /// Files longer than the model's patch budget (PatchLength - 2 patches of content; 8160 bytes for the paper's
    /// model): <see cref="LongFileStrategy.Truncate"/> (default) cuts them with <see cref="Truncation"/>;
    /// <see cref="LongFileStrategy.WindowMean"/> averages the pooled features of consecutive windows of
    /// (PatchLength - 2) x PatchSize bytes, each encoded like a whole file, at most <see cref="MaxWindows"/> of them
    /// evenly spaced. Window mean uses the whole content: read files with <c>LoadFileBytes(..., maxBytes: 1 MiB or
    /// 16 MiB)</c>, since the default reader keeps only a file's two 64 KiB ends.
    /// </summary>
    public LongFileStrategy LongFiles { get; set; } = LongFileStrategy.Truncate;

    /// <summary>
    /// How files longer than the model's patch budget are cut when <see cref="LongFiles"/> is
    /// <see cref="LongFileStrategy.Truncate"/>: <see cref="TruncationStrategy.Head"/> (default, the original's
    /// inference), <see cref="TruncationStrategy.HeadTail"/> (start and end) or <see cref="TruncationStrategy.Tail"/>.
    /// </summary>
    public TruncationStrategy Truncation { get; set; } = TruncationStrategy.Head;

    /// <summary>
    /// With <see cref="LongFileStrategy.WindowMean"/>, the most windows averaged per file: 1 to 4096, default 16.
    /// A file with K windows, K over the cap M, averages windows floor(i (K - 1) / (M - 1)), i = 0..M-1: evenly spaced,
    /// the first and the last included (M = 1: the first only). Cost grows linearly with M (each window is one
    /// full-length sequence).
    /// </summary>
    public int MaxWindows { get; set; } = 16;

    /// <summary>
    /// ONNX Runtime intra-op threads, at least 1; null (default) uses every core the process may use
    /// (<see cref="Environment.ProcessorCount"/>). A model loaded from a zip gets ONNX Runtime's default instead (ML.NET
    /// does not save thread settings).
    /// </summary>
    public int? Threads { get; set; }

    /// <summary>
    /// Serve an int8 graph (ONNX Runtime dynamic quantization of the weight matrices, <see cref="Onnx.OnnxQuantizer"/>):
    /// about 2.2–2.4x faster at 8 KB for the paper's model, weights a quarter of the size (serving memory about 40 %),
    /// at a small accuracy cost (docs/benchmarks.md). Default false.
    /// </summary>
    public bool Quantize { get; set; }

    internal BGptFeaturizerOptions Copy() => (BGptFeaturizerOptions)MemberwiseClone();
}

/// <summary>Options of <c>mlContext.Transforms.ScoreBitsPerByte</c>.</summary>
public sealed class BGptBitsPerByteOptions
{
    /// <summary>
    /// A bGPT language-model checkpoint (<c>.pth</c> or <c>.safetensors</c>, with the byte-level decoder), or an <c>.onnx</c>
    /// graph exported with the bits-per-byte head (<c>bgpt export-onnx --head bpb</c>). Required.
    /// </summary>
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

    /// <summary>
    /// ONNX Runtime intra-op threads, at least 1; null (default) uses every core the process may use
    /// (<see cref="Environment.ProcessorCount"/>). A model loaded from a zip gets ONNX Runtime's default instead (ML.NET
    /// does not save thread settings).
    /// </summary>
    public int? Threads { get; set; }

    /// <summary>
    /// Serve an int8 graph (ONNX Runtime dynamic quantization of the weight matrices, <see cref="Onnx.OnnxQuantizer"/>):
    /// about 2.2–2.4x faster at 8 KB for the paper's model, weights a quarter of the size (serving memory about 40 %),
    /// at a small accuracy cost (docs/benchmarks.md). Default false.
    /// </summary>
    public bool Quantize { get; set; }

    internal BGptBitsPerByteOptions Copy() => (BGptBitsPerByteOptions)MemberwiseClone();
}

