using Microsoft.ML.BGpt;
using Microsoft.ML.BGpt.MLNet;

namespace Microsoft.ML;

/// <summary>bGPT transforms on <c>mlContext.Transforms</c>.</summary>
public static class BGptCatalog
{
    /// <summary>
    /// Reads the files named in <paramref name="inputColumnName"/> (String) into <paramref name="outputColumnName"/>
    /// (variable-length Vector&lt;Byte&gt;) and <paramref name="extensionColumnName"/> (the UTF-8 bytes of the text after
    /// the file name's last dot). By default (<paramref name="maxBytes"/> null) files over 128 KiB are read as their
    /// first 64 KiB and last 64 KiB or so (a middle cut aligned to 4 KiB), which bGPT encodes exactly as the whole file
    /// under Head, Tail and HeadTail truncation. For <see cref="LongFileStrategy.WindowMean"/>, which uses the whole
    /// content, set <paramref name="maxBytes"/> to read the first maxBytes bytes of each file instead: 1 MiB
    /// (1048576) or 16 MiB (16777216), see <see cref="LoadFileBytesEstimator.SupportedMaxBytes"/>; other values throw
    /// <see cref="ArgumentOutOfRangeException"/> (a saved model stores the cap as a contract name). Saves into model zips.
    /// </summary>
    public static LoadFileBytesEstimator LoadFileBytes(this TransformsCatalog catalog, string outputColumnName = "Bytes",
        string inputColumnName = "Path", string extensionColumnName = "Extension", long? maxBytes = null) =>
        new(catalog, outputColumnName, inputColumnName, extensionColumnName, maxBytes);

    /// <summary>
    /// bGPT features of each file: the pooled (mean by default) patch-level decoder features under a pretrained
    /// checkpoint, a Vector&lt;float&gt; of the hidden size, ready for any ML.NET trainer. Served through ONNX Runtime.
    /// See <see cref="BGptFeaturizerOptions"/> for pooling, long files and threads.
    /// </summary>
    public static BGptFeaturizerEstimator FeaturizeBGpt(this TransformsCatalog catalog, BGptFeaturizerOptions options) => new(catalog, options);

    /// <summary>bGPT features with default options; see <see cref="FeaturizeBGpt(TransformsCatalog, BGptFeaturizerOptions)"/>.</summary>
    public static BGptFeaturizerEstimator FeaturizeBGpt(this TransformsCatalog catalog, string checkpointPath,
        string outputColumnName = "Features", string bytesColumnName = "Bytes", string extensionColumnName = "Extension") =>
        new(catalog, new BGptFeaturizerOptions { CheckpointPath = checkpointPath, OutputColumnName = outputColumnName, BytesColumnName = bytesColumnName, ExtensionColumnName = extensionColumnName });

    /// <summary>Bits per byte of each file under a bGPT language model (a Vector&lt;float&gt; of size 1). Served through ONNX Runtime.</summary>
    public static BGptBitsPerByteEstimator ScoreBitsPerByte(this TransformsCatalog catalog, BGptBitsPerByteOptions options) => new(catalog, options);

    /// <summary>Bits per byte with default options; see <see cref="ScoreBitsPerByte(TransformsCatalog, BGptBitsPerByteOptions)"/>.</summary>
    public static BGptBitsPerByteEstimator ScoreBitsPerByte(this TransformsCatalog catalog, string checkpointPath,
        string outputColumnName = "BitsPerByte", string bytesColumnName = "Bytes", string extensionColumnName = "Extension") =>
        new(catalog, new BGptBitsPerByteOptions { CheckpointPath = checkpointPath, OutputColumnName = outputColumnName, BytesColumnName = bytesColumnName, ExtensionColumnName = extensionColumnName });
}
