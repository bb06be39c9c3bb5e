using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Onnx;
using Microsoft.ML.BGpt.Training;

namespace Microsoft.ML.BGpt.MLNet;

/// <summary>
/// Generative pretraining of the bGPT language model (next-byte loss) on the rows' files. Writes the best checkpoint to
/// <see cref="BGptTrainingOptions.CheckpointPath"/> (the original's format), which the classification trainers can start
/// from, and fits to a bits-per-byte scorer of the trained LM, served through ONNX Runtime.
/// </summary>
public sealed class BGptPretrainingEstimator : IEstimator<ITransformer>
{
    private const string Component = "PretrainBGpt";
    private readonly object _catalog;
    private readonly BGptPretrainingOptions _options;

    internal BGptPretrainingEstimator(object catalog, BGptPretrainingOptions options)
    {
        _catalog = catalog;
        _options = options ?? throw new ArgumentNullException(nameof(options));
    }

    /// <summary>Per-epoch metrics of the last <see cref="Fit(IDataView)"/>.</summary>
    public IReadOnlyList<EpochMetrics>? LastTrainingHistory { get; private set; }

    /// <inheritdoc/>
    public ITransformer Fit(IDataView input)
    {
        SchemaChecks.ByteVector(input.Schema, _options.BytesColumnName, Component);
        SchemaChecks.ByteVector(input.Schema, _options.ExtensionColumnName, Component);
        SchemaChecks.SamplingKey(input.Schema, _options.SamplingKeyColumnName, Component);
        OnnxPipeline.CheckNames(input.Schema.Select(c => c.Name), _options.BytesColumnName, _options.ExtensionColumnName, GraphOutputs, Component);
        _options.Validate();
        var train = DataViewExamples.Read(input, _options.BytesColumnName, _options.ExtensionColumnName, null, false, Component, _options.SamplingKeyColumnName);

        BGptConfig config;
        IReadOnlyDictionary<string, TensorData>? weights = null;
        if (_options.PretrainedWeights is { } path)
        {
            var checkpoint = BGptCheckpoint.Load(path);
            if (checkpoint.Kind != BGptCheckpointKind.LanguageModel)
                throw new BGptCheckpointException(path, $"{Component}: a language-model checkpoint is needed to continue pretraining; this is a classifier.");
            (config, weights) = (checkpoint.Config, checkpoint.Weights);
        }
        else config = _options.Config ?? BGptConfig.Default;

        using var log = new MLContextLog(_catalog, "BGpt");
        log.Info($"{Component}: {train.Count} files, {config.HiddenSize} hidden, {config.PatchNumLayers} + {config.ByteNumLayers} layers.");
        log.WarnIfBFloat16IsSlow(Component, _options.Precision);
        var result = Pretrainer.Train(train, null, config, weights, _options, new ProgressFanOut(_options.Progress, log), _options.CancellationToken);
        using var model = result.Model;
        LastTrainingHistory = result.History;
        foreach (var e in result.History) log.Info($"epoch {e.Epoch}: train loss {e.TrainLoss:F4}, validation bits/byte {e.BitsPerByte:F4}{(e.IsBest ? " (best)" : "")}");

        var checkpointOut = BGptModels.ToCheckpoint(model);
        // The trainer writes improving epochs (with optimizer state); make sure a checkpoint exists even without validation.
        if (_options.CheckpointPath is { } target && !File.Exists(target)) checkpointOut.Save(target, CheckpointFormat.TrainingCheckpoint);

        var onnx = BGptOnnxExporter.Export(checkpointOut.Weights, checkpointOut.Config,
            new BGptOnnxOptions { Head = OnnxHead.BitsPerByte, Truncation = _options.EvalTruncation });
        var fitted = Serving(onnx).Fit(input);
        Runtime.NativeMemory.Release(); // the training run's freed buffers, before the app goes on serving
        return fitted;
    }

    private (string, string)[] GraphOutputs => [(BGptOnnxExporter.BitsPerByteOutput, _options.OutputColumnName)];

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaChecks.ByteVector(inputSchema, _options.BytesColumnName, Component);
        SchemaChecks.ByteVector(inputSchema, _options.ExtensionColumnName, Component);
        SchemaChecks.SamplingKey(inputSchema, _options.SamplingKeyColumnName, Component);
        OnnxPipeline.CheckNames(inputSchema.Select(c => c.Name), _options.BytesColumnName, _options.ExtensionColumnName, GraphOutputs, Component);
        return Serving(StandIn.Value).GetOutputSchema(inputSchema);
    }

    private IEstimator<ITransformer> Serving(byte[] onnx) =>
        OnnxPipeline.Build(new MLContext(_options.Seed).Transforms, onnx, _options.BytesColumnName, _options.ExtensionColumnName,
            new[] { (BGptOnnxExporter.BitsPerByteOutput, _options.OutputColumnName) }, _options.InferenceThreads);

    private static readonly Lazy<byte[]> StandIn = new(() =>
    {
        var config = BGptConfig.Create(patchSize: 16, patchLength: 4, hiddenSize: 8, patchNumLayers: 1, byteNumLayers: 1);
        using var model = new BGptLMHeadModel(config);
        return BGptOnnxExporter.Export(ModelWeights.Export(model), config, new BGptOnnxOptions { Head = OnnxHead.BitsPerByte });
    });
}
