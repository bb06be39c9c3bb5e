using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Onnx;

namespace Microsoft.ML.BGpt.MLNet;

/// <summary>
/// Base of the bGPT transforms served through ONNX: validates the byte columns, exports the checkpoint's graph
/// once (lazily), and fits to ML.NET's own ONNX transformer chain, which saves into model zips.
/// </summary>
public abstract class BGptOnnxEstimator : IEstimator<ITransformer>
{
    private readonly TransformsCatalog _catalog;
    private readonly string _component;
    private IEstimator<ITransformer>? _chain;
    private IReadOnlyList<(string OnnxOutput, string Column)> _outputs = [];

    private protected BGptOnnxEstimator(TransformsCatalog catalog, string component)
    {
        _catalog = catalog;
        _component = component;
    }

    private protected abstract string BytesColumn { get; }
    private protected abstract string ExtensionColumn { get; }
    private protected abstract int? Threads { get; }

    /// <summary>The ONNX graph's file and which of its outputs become which columns.</summary>
    private protected abstract (string OnnxFile, IReadOnlyList<(string OnnxOutput, string Column)> Outputs) Export();

    private IEstimator<ITransformer> Chain()
    {
        if (_chain is null)
        {
            var (file, outputs) = Export();
            _outputs = outputs;
            // The checkpoint and the graph's protobuf (about 2 x 350 MB for the paper's model) are garbage now; collect
            // them before ONNX Runtime loads the file, so they do not add to the session's own copy at the peak, and
            // return the session's load-time buffers afterwards.
            Runtime.NativeMemory.Release();
            _chain = OnnxPipeline.Build(_catalog, file, BytesColumn, ExtensionColumn, outputs, Threads);
            Runtime.NativeMemory.Release();
        }
        return _chain;
    }

    /// <inheritdoc/>
    public ITransformer Fit(IDataView input)
    {
        SchemaChecks.ByteVector(input.Schema, BytesColumn, _component);
        SchemaChecks.ByteVector(input.Schema, ExtensionColumn, _component);
        var chain = Chain();
        OnnxPipeline.CheckNames(input.Schema.Select(c => c.Name), BytesColumn, ExtensionColumn, _outputs, _component);
        return chain.Fit(input);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaChecks.ByteVector(inputSchema, BytesColumn, _component);
        SchemaChecks.ByteVector(inputSchema, ExtensionColumn, _component);
        var chain = Chain();
        OnnxPipeline.CheckNames(inputSchema.Select(c => c.Name), BytesColumn, ExtensionColumn, _outputs, _component);
        return chain.GetOutputSchema(inputSchema);
    }

    private protected static BGptCheckpoint LoadCheckpoint(string path, string component)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException($"{component}: CheckpointPath is required.");
        var checkpoint = BGptCheckpoint.Load(path);
        // Patch sizes that do not divide the reader's alignment (record strides such as 28) still work: files over
        // 128 KiB are then seen as their two ends joined, as the trainers saw them through the same loader.
        if (checkpoint.Config.MaxTokens > FileWindowReader.WindowBytes)
            throw new BGptCheckpointException(path, $"{component}: a window of {checkpoint.Config.PatchSize} x {checkpoint.Config.PatchLength} bytes is more than LoadFileBytes keeps of each end of a large file ({FileWindowReader.WindowBytes} bytes).");
        return checkpoint;
    }

    /// <summary>
    /// A graph already exported (<c>bgpt export-onnx</c> or <see cref="BGptOnnxExporter"/>): served as it is, which avoids
    /// holding the checkpoint and the export in memory (the 110M model then serves under 1.2 GB). Its head, truncation and
    /// pooling are the ones it was exported with.
    /// </summary>
    private protected static bool IsExportedGraph(string path) => path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    /// <summary>A pre-exported graph as served: the file itself, or its int8 version when <paramref name="quantize"/> is set.</summary>
    private protected static string ServedGraph(string path, bool quantize)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"ONNX graph '{path}' not found.", path);
        return quantize ? OnnxModelCache.Store(OnnxQuantizer.QuantizeDynamic(File.ReadAllBytes(path))) : Path.GetFullPath(path);
    }

    /// <summary>A checkpoint's graph as served, written straight to a cached file: int8 when <paramref name="quantize"/> is set.</summary>
    private protected static string ServedExport(BGptCheckpoint checkpoint, BGptOnnxOptions options, bool quantize) => quantize
        ? OnnxModelCache.Store(OnnxQuantizer.QuantizeDynamic(BGptOnnxExporter.Export(checkpoint.Weights, checkpoint.Config, options)))
        : OnnxModelCache.Store(stream => BGptOnnxExporter.Export(checkpoint.Weights, checkpoint.Config, stream, options));

    private protected static void CheckTruncation(TruncationStrategy t, string component)
    {
        if (t == TruncationStrategy.RandomCrop)
            throw new ArgumentException($"{component}: TruncationStrategy.RandomCrop is for training; use Head, Tail or HeadTail at inference.");
    }
}

/// <summary>
/// bGPT features: the patch-level decoder's features pooled (mean or last patch) over a truncated file or averaged
/// over windows (<see cref="BGptFeaturizerOptions"/>), a <c>Vector&lt;float&gt;</c> of the hidden size.
/// </summary>
public sealed class BGptFeaturizerEstimator : BGptOnnxEstimator
{
    private readonly BGptFeaturizerOptions _options;

    internal BGptFeaturizerEstimator(TransformsCatalog catalog, BGptFeaturizerOptions options) : base(catalog, "FeaturizeBGpt")
    {
        // A copy: the graph is exported once, so later changes to the caller's object must not half-apply.
        _options = options?.Copy() ?? throw new ArgumentNullException(nameof(options));
        options = _options;
        CheckTruncation(options.Truncation, "FeaturizeBGpt");
        if (!Enum.IsDefined(options.Pooling)) throw new ArgumentException($"FeaturizeBGpt: unknown pooling {options.Pooling}.");
        if (!Enum.IsDefined(options.LongFiles)) throw new ArgumentException($"FeaturizeBGpt: unknown long-file strategy {options.LongFiles}.");
        if (options.MaxWindows is < 1 or > BGptOnnxOptions.MaxWindowsLimit)
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxWindows, $"FeaturizeBGpt: MaxWindows must be 1 to {BGptOnnxOptions.MaxWindowsLimit}.");
        if (options.Threads is < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.Threads, "FeaturizeBGpt: Threads must be at least 1 (or null).");
    }

    private protected override string BytesColumn => _options.BytesColumnName;
    private protected override string ExtensionColumn => _options.ExtensionColumnName;
    private protected override int? Threads => _options.Threads;

    private protected override (string, IReadOnlyList<(string, string)>) Export()
    {
        var outputs = new[] { (BGptOnnxExporter.FeaturesOutput, _options.OutputColumnName) };
        if (IsExportedGraph(_options.CheckpointPath)) return (ServedGraph(_options.CheckpointPath, _options.Quantize), outputs);
        var checkpoint = LoadCheckpoint(_options.CheckpointPath, "FeaturizeBGpt");
        return (ServedExport(checkpoint, new BGptOnnxOptions
        {
            Head = OnnxHead.Features,
            Truncation = _options.Truncation,
            Pooling = _options.Pooling,
            LongFiles = _options.LongFiles,
            MaxWindows = _options.MaxWindows,
            Source = _options.CheckpointPath,
        }, _options.Quantize), outputs);
    }
}

/// <summary>Bits per byte of each file under a bGPT language model: for novelty and anomaly detection.</summary>
public sealed class BGptBitsPerByteEstimator : BGptOnnxEstimator
{
    private readonly BGptBitsPerByteOptions _options;

    internal BGptBitsPerByteEstimator(TransformsCatalog catalog, BGptBitsPerByteOptions options) : base(catalog, "ScoreBitsPerByte")
    {
        _options = options?.Copy() ?? throw new ArgumentNullException(nameof(options)); // a copy, as FeaturizeBGpt's
        options = _options;
        CheckTruncation(options.Truncation, "ScoreBitsPerByte");
        if (options.Threads is < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.Threads, "ScoreBitsPerByte: Threads must be at least 1 (or null).");
    }

    private protected override string BytesColumn => _options.BytesColumnName;
    private protected override string ExtensionColumn => _options.ExtensionColumnName;
    private protected override int? Threads => _options.Threads;

    private protected override (string, IReadOnlyList<(string, string)>) Export()
    {
        var outputs = new[] { (BGptOnnxExporter.BitsPerByteOutput, _options.OutputColumnName) };
        if (IsExportedGraph(_options.CheckpointPath)) return (ServedGraph(_options.CheckpointPath, _options.Quantize), outputs);
        var checkpoint = LoadCheckpoint(_options.CheckpointPath, "ScoreBitsPerByte");
        if (checkpoint.Kind != BGptCheckpointKind.LanguageModel)
            throw new BGptCheckpointException(_options.CheckpointPath, "ScoreBitsPerByte needs a language-model checkpoint (with a byte-level decoder); this is a classifier.");
        return (ServedExport(checkpoint, new BGptOnnxOptions { Head = OnnxHead.BitsPerByte, Truncation = _options.Truncation, Source = _options.CheckpointPath },
            _options.Quantize), outputs);
    }
}
