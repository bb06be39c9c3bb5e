using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.BGpt.Checkpoints;
using Onnx;

namespace Microsoft.ML.BGpt.Onnx;

/// <summary>
/// Writes a bGPT model as a self-contained ONNX graph straight from its weights (original state dict names), for
/// ONNX Runtime and ML.NET's <c>ApplyOnnxModel</c>: no Python and no libtorch.
/// </summary>
/// <remarks>
/// <para>The graph contract (batch 1: ML.NET's OnnxTransformer feeds one row at a time):</para>
/// <list type="bullet">
/// <item><c>bytes</c>: uint8 [1, n], the whole file (n may be 0).</item>
/// <item><c>extension</c>: uint8 [1, e], the UTF-8 bytes of the file's extension without the dot (e may be 0);
/// see <see cref="ByteEncoder.ExtensionOf"/>. Bytes past the patch size are ignored.</item>
/// <item>Outputs by <see cref="OnnxHead"/>: <c>features</c> float [1, H] always; <c>logits</c> and
/// <c>probabilities</c> float [1, labels] for <see cref="OnnxHead.Classifier"/>; <c>loss</c> and
/// <c>bits_per_byte</c> float [1] for <see cref="OnnxHead.BitsPerByte"/>; <c>last_hidden_state</c>
/// float [1, patches, H] when <see cref="BGptOnnxOptions.IncludeLastHiddenState"/>.</item>
/// </list>
/// <para>Inside, the graph encodes the input exactly as <see cref="ByteEncoder.Encode"/> with the truncation chosen at
/// export, then runs the patch-level decoder (and the head) in float32. With <see cref="LongFileStrategy.WindowMean"/>
/// it instead encodes up to <see cref="BGptOnnxOptions.MaxWindows"/> windows of the content as a batch and averages
/// their pooled features (docs/onnx.md defines the windows).</para>
/// </remarks>
public static partial class BGptOnnxExporter
{
    /// <summary>Input: the file's bytes, uint8 [1, n].</summary>
    public const string BytesInput = "bytes";
    /// <summary>Input: the extension's UTF-8 bytes, uint8 [1, e].</summary>
    public const string ExtensionInput = "extension";
    /// <summary>Output: pooled patch features (<see cref="BGptOnnxOptions.Pooling"/>, <see cref="BGptOnnxOptions.LongFiles"/>), float [1, H].</summary>
    public const string FeaturesOutput = "features";
    /// <summary>Output (optional): patch-level decoder output, float [1, patches, H].</summary>
    public const string LastHiddenStateOutput = "last_hidden_state";
    /// <summary>Output (classifier): float [1, labels].</summary>
    public const string LogitsOutput = "logits";
    /// <summary>Output (classifier): softmax of the logits, float [1, labels].</summary>
    public const string ProbabilitiesOutput = "probabilities";
    /// <summary>Output (bits per byte): mean negative log-likelihood in nats, float [1].</summary>
    public const string LossOutput = "loss";
    /// <summary>Output (bits per byte): loss / ln 2, float [1].</summary>
    public const string BitsPerByteOutput = "bits_per_byte";

    /// <summary>Exports to an in-memory ONNX model.</summary>
    /// <param name="weights">Tensors by original state dict key (e.g. <c>BGptCheckpoint.Weights</c>).</param>
    /// <param name="config">The model's configuration (e.g. <c>BGptCheckpoint.Config</c>).</param>
    /// <param name="options">Head, truncation and opset; defaults to <see cref="OnnxHead.Features"/>, head truncation, opset <see cref="BGptOnnxOptions.DefaultOpset"/>.</param>
    /// <exception cref="BGptCheckpointException">A tensor the head needs is missing or has the wrong shape (the message names it).</exception>
    /// <exception cref="ArgumentException">Invalid options or configuration.</exception>
    public static byte[] Export(IReadOnlyDictionary<string, TensorData> weights, BGptConfig config, BGptOnnxOptions? options = null) =>
        BuildModel(weights, config, options).ToByteArray();

    /// <summary>Exports to a file, written through a temporary file and a move (readers never see half a model).</summary>
    /// <inheritdoc cref="Export(IReadOnlyDictionary{string, TensorData}, BGptConfig, BGptOnnxOptions?)"/>
    public static void Export(IReadOnlyDictionary<string, TensorData> weights, BGptConfig config, string path, BGptOnnxOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var model = BuildModel(weights, config, options);
        AtomicFile.Write(path, stream => model.WriteTo(stream));
    }

    /// <summary>Exports to a stream.</summary>
    /// <inheritdoc cref="Export(IReadOnlyDictionary{string, TensorData}, BGptConfig, BGptOnnxOptions?)"/>
    public static void Export(IReadOnlyDictionary<string, TensorData> weights, BGptConfig config, Stream stream, BGptOnnxOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        BuildModel(weights, config, options).WriteTo(stream);
    }

    /// <summary>
    /// The parts of a file of <paramref name="length"/> bytes that the graph actually uses: feeding just these
    /// ranges, concatenated, as <c>bytes</c> gives exactly the tokens (so the outputs) of the whole file under
    /// <paramref name="truncation"/>. Lets a loader read only the head and/or tail of a huge file.
    /// </summary>
    /// <returns>(offset, length) ranges in file order; the whole file when it fits the patch budget.</returns>
    public static IReadOnlyList<(long Offset, long Length)> InputRanges(long length, BGptConfig config, TruncationStrategy truncation)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentNullException.ThrowIfNull(config);
        long p = config.PatchSize, budget = config.PatchLength;
        long contentPatches = (length + p - 1) / p;
        if (contentPatches + 2 <= budget) return [(0, length)];
        switch (truncation)
        {
            case TruncationStrategy.Head:      // extension patch + the first budget - 1 content patches
                return [(0, Math.Min(length, (budget - 1) * p))];
            case TruncationStrategy.Tail:      // the last budget - 1 content patches (whole patches) + end patch
                long start = (contentPatches - budget + 1) * p;
                return [(start, length - start)];
            case TruncationStrategy.HeadTail:  // extension + head - 1 content patches, tail - 1 content patches + end
                long head = (budget + 1) / 2, tail = budget - head;
                long tailStart = (contentPatches - tail + 1) * p;
                return [(0, (head - 1) * p), (tailStart, length - tailStart)];
            default:
                throw new ArgumentException($"Truncation {truncation} cannot be exported: use Head, Tail or HeadTail.", nameof(truncation));
        }
    }

    /// <summary>
    /// With <see cref="LongFileStrategy.WindowMean"/>: the content byte ranges of the windows a file of
    /// <paramref name="length"/> bytes averages (at most <paramref name="maxWindows"/>, evenly spaced, in file order).
    /// Every range but the last is a whole window, so feeding just these ranges, concatenated, as <c>bytes</c> gives
    /// the same windows, hence the same features: a loader can read at most maxWindows windows of any file.
    /// </summary>
    /// <returns>(offset, length) ranges; one (0, length) range when the file is one window (also for length 0).</returns>
    public static IReadOnlyList<(long Offset, long Length)> WindowRanges(long length, BGptConfig config, int maxWindows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWindows, 1);
        if (config.PatchLength < 3) throw new ArgumentException("Window mean needs PatchLength >= 3.", nameof(config));
        long window = (long)(config.PatchLength - 2) * config.PatchSize;
        long k = Math.Max(1, (length + window - 1) / window), m = Math.Min(k, maxWindows);
        var ranges = new List<(long, long)>((int)m);
        for (long i = 0; i < m; i++)
        {
            long start = i * (k - 1) / Math.Max(m - 1, 1) * window;
            ranges.Add((start, Math.Min(length - start, window)));
        }
        return ranges;
    }

    internal static ModelProto BuildModel(IReadOnlyDictionary<string, TensorData> weights, BGptConfig config, BGptOnnxOptions? options)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(config);
        options ??= new BGptOnnxOptions();
        config.Validate();
        if (options.Opset is < BGptOnnxOptions.MinOpset or > BGptOnnxOptions.MaxOpset)
            throw new ArgumentException($"Opset {options.Opset} is not supported: use {BGptOnnxOptions.MinOpset} to {BGptOnnxOptions.MaxOpset}.", nameof(options));
        if (options.Truncation == TruncationStrategy.RandomCrop)
            throw new ArgumentException("TruncationStrategy.RandomCrop is a training-time augmentation and cannot be exported: use Head, Tail or HeadTail.", nameof(options));
        if (!Enum.IsDefined(options.Truncation)) throw new ArgumentException($"Unknown truncation strategy {options.Truncation}.", nameof(options));
        if (!Enum.IsDefined(options.Head)) throw new ArgumentException($"Unknown head {options.Head}.", nameof(options));
        if (!Enum.IsDefined(options.Pooling)) throw new ArgumentException($"Unknown pooling {options.Pooling}.", nameof(options));
        if (!Enum.IsDefined(options.LongFiles)) throw new ArgumentException($"Unknown long-file strategy {options.LongFiles}.", nameof(options));
        if (options.Head == OnnxHead.Classifier && options.Pooling != FeaturePooling.Mean)
            throw new ArgumentException($"The classifier head was trained on mean-pooled features: use FeaturePooling.Mean, not {options.Pooling}.", nameof(options));
        if (options.LongFiles == LongFileStrategy.WindowMean)
        {
            if (options.MaxWindows is < 1 or > BGptOnnxOptions.MaxWindowsLimit)
                throw new ArgumentException($"MaxWindows {options.MaxWindows} is out of range: use 1 to {BGptOnnxOptions.MaxWindowsLimit}.", nameof(options));
            if (options.Head == OnnxHead.BitsPerByte)
                throw new ArgumentException("LongFileStrategy.WindowMean is for the Features and Classifier heads; BitsPerByte needs Truncate.", nameof(options));
            if (options.IncludeLastHiddenState)
                throw new ArgumentException("IncludeLastHiddenState is not available with LongFileStrategy.WindowMean.", nameof(options));
            if (config.PatchLength < 3)
                throw new ArgumentException($"LongFileStrategy.WindowMean needs PatchLength >= 3 (windows of PatchLength - 2 content patches); it is {config.PatchLength}.", nameof(options));
        }

        var e = new Exporter(new OnnxGraphBuilder("bgpt_" + options.Head.ToString().ToLowerInvariant(), options.Opset),
            new WeightSource(weights, options.Source), config, options);
        e.Build();

        var model = new ModelProto
        {
            IrVersion = options.Opset switch { <= 18 => 8, <= 20 => 9, <= 22 => 10, _ => 11 },
            ProducerName = "Microsoft.ML.BGpt",
            ProducerVersion = typeof(BGptOnnxExporter).Assembly.GetName().Version?.ToString() ?? "",
            Domain = "microsoft.ml.bgpt",
            DocString = "bGPT (byte-level GPT, sanderwood/bgpt) exported by Microsoft.ML.BGpt. Inputs: bytes uint8 [1, n], extension uint8 [1, e].",
            Graph = e.Builder.Graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = options.Opset });
        void Meta(string key, string value) => model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        Meta("bgpt.head", options.Head.ToString());
        Meta("bgpt.truncation", options.Truncation.ToString());
        Meta("bgpt.pooling", options.Pooling.ToString());
        Meta("bgpt.long_files", options.LongFiles.ToString());
        if (options.LongFiles == LongFileStrategy.WindowMean) Meta("bgpt.max_windows", options.MaxWindows.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Meta("bgpt.config", JsonSerializer.Serialize(config));
        if (options.Labels is not null) Meta("bgpt.labels", JsonSerializer.Serialize(options.Labels));
        return model;
    }
}
