using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Onnx;
using Microsoft.ML.BGpt.Training;
using Microsoft.ML.Data;

namespace Microsoft.ML.BGpt.MLNet;

/// <summary>
/// Fine-tunes bGPT end to end (patch-level decoder and head) on labeled files with TorchSharp, then serves the result
/// through ONNX Runtime: <see cref="Fit(IDataView)"/> returns ML.NET's own transformers (ONNX scoring, column copies,
/// value mapping), so the model saves into an ordinary zip and predicts without libtorch.
/// </summary>
public sealed class BGptClassificationEstimator : IEstimator<ITransformer>
{
    private readonly object _catalog;
    private readonly BGptClassifierOptions _options;
    private readonly bool _binary;
    private readonly string _component;

    internal BGptClassificationEstimator(object catalog, BGptClassifierOptions options, bool binary)
    {
        _catalog = catalog;
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _binary = binary;
        _component = binary ? "BinaryClassification.Trainers.BGpt" : "MulticlassClassification.Trainers.BGpt";
    }

    /// <summary>Per-epoch metrics of the last <see cref="Fit(IDataView)"/> (train loss, validation loss and accuracy, speed).</summary>
    public IReadOnlyList<EpochMetrics>? LastTrainingHistory { get; private set; }

    /// <summary>Trains on <paramref name="input"/>, holding out <see cref="BGptTrainingOptions.ValidationFraction"/> for validation.</summary>
    public ITransformer Fit(IDataView input) => Fit(input, null);

    /// <summary>Trains on <paramref name="input"/> and validates (early stopping, best epoch) on <paramref name="validation"/>.</summary>
    public ITransformer Fit(IDataView input, IDataView? validation)
    {
        CheckColumns(input.Schema);
        SchemaChecks.SamplingKey(input.Schema, _options.SamplingKeyColumnName, _component); // only the training data is split
        if (validation is not null) CheckColumns(validation.Schema);
        _options.Validate();
        var labels = _binary ? new[] { "False", "True" } : DataViewExamples.KeyLabels(input.Schema[_options.LabelColumnName]);
        if (labels.Count < 2) throw new InvalidOperationException($"{_component}: label column '{_options.LabelColumnName}' has a single class; classification needs at least two.");
        if (validation is not null && !_binary && DataViewExamples.KeyLabels(validation.Schema[_options.LabelColumnName]) is var validationLabels && !validationLabels.SequenceEqual(labels))
            throw new ArgumentOutOfRangeException(nameof(validation), $"{_component}: the validation data's label column '{_options.LabelColumnName}' has the keys " +
                $"[{string.Join(", ", validationLabels)}], the training data's [{string.Join(", ", labels)}]; key both with the same fitted MapValueToKey.");

        var train = DataViewExamples.Read(input, _options.BytesColumnName, _options.ExtensionColumnName, _options.LabelColumnName, _binary, _component, _options.SamplingKeyColumnName);
        var valid = validation is null ? null : DataViewExamples.Read(validation, _options.BytesColumnName, _options.ExtensionColumnName, _options.LabelColumnName, _binary, _component);

        BGptConfig config;
        IReadOnlyDictionary<string, TensorData>? weights = null;
        if (_options.PretrainedWeights is { } path)
        {
            var checkpoint = BGptCheckpoint.Load(path);
            (config, weights) = (checkpoint.Config, checkpoint.Weights);
            // A classifier's head is kept only for the same classes in the same order (ClassifierTrainer checks the count).
            if (checkpoint.Labels is { } named && !named.SequenceEqual(labels))
                weights = weights.Where(kv => !kv.Key.StartsWith("classifier.", StringComparison.Ordinal)).ToDictionary();
        }
        else config = _options.Config ?? BGptConfig.Default;

        using var log = new MLContextLog(_catalog, "BGpt");
        var progress = new ProgressFanOut(_options.Progress, log);
        log.Info($"{_component}: {train.Count} training files, {labels.Count} classes, {(weights is null ? "from scratch" : "from " + _options.PretrainedWeights)}.");
        log.WarnIfBFloat16IsSlow(_component, _options.Precision);
        var options = _options.CopyAs<BGptClassifierOptions>(); // this Fit's label names go into its checkpoints, not into the caller's options
        options.LabelNames ??= labels;
        var result = ClassifierTrainer.Train(train, valid, labels.Count, config, weights, options, progress, options.CancellationToken);
        using var model = result.Model;
        LastTrainingHistory = result.History;
        foreach (var e in result.History) log.Info($"epoch {e.Epoch}: train loss {e.TrainLoss:F4}, validation loss {e.ValidationLoss:F4}, accuracy {e.ValidationAccuracy:P2}{(e.IsBest ? " (best)" : "")}");

        var onnx = BGptOnnxExporter.Export(ModelWeights.Export(model), model.Config,
            new BGptOnnxOptions { Head = OnnxHead.Classifier, Truncation = _options.EvalTruncation, Labels = labels });
        if (_options.QuantizeInference) onnx = OnnxQuantizer.QuantizeDynamic(onnx);
        var fitted = Serving(onnx, labels).Fit(input);
        Runtime.NativeMemory.Release(); // the training run's freed buffers, before the app goes on serving
        return fitted;
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaChecks.Label(inputSchema, _options.LabelColumnName, _component, _binary);
        SchemaChecks.ByteVector(inputSchema, _options.BytesColumnName, _component);
        SchemaChecks.ByteVector(inputSchema, _options.ExtensionColumnName, _component);
        SchemaChecks.SamplingKey(inputSchema, _options.SamplingKeyColumnName, _component);
        OnnxPipeline.CheckNames(inputSchema.Select(c => c.Name), _options.BytesColumnName, _options.ExtensionColumnName, GraphOutputs, _component);
        // SchemaShape records no vector sizes, so a tiny stand-in graph yields the same output shape as the real one.
        return Serving(StandIn.Value, new[] { "0", "1" }).GetOutputSchema(inputSchema);
    }

    private IEstimator<ITransformer> Serving(byte[] onnx, IReadOnlyList<string> labels)
    {
        var catalog = new MLContext(_options.Seed).Transforms;
        return _binary
            ? ClassifierPipeline.Binary(catalog, onnx, _options.BytesColumnName, _options.ExtensionColumnName,
                _options.ScoreColumnName, _options.ProbabilityColumnName, _options.PredictedLabelColumnName, _options.InferenceThreads)
            : ClassifierPipeline.Multiclass(catalog, onnx, labels, _options.BytesColumnName, _options.ExtensionColumnName,
                _options.ScoreColumnName, _options.PredictedLabelColumnName, _options.InferenceThreads);
    }

    private void CheckColumns(DataViewSchema schema)
    {
        SchemaChecks.Label(schema, _options.LabelColumnName, _component, _binary);
        SchemaChecks.ByteVector(schema, _options.BytesColumnName, _component);
        SchemaChecks.ByteVector(schema, _options.ExtensionColumnName, _component);
        OnnxPipeline.CheckNames(schema.Select(c => c.Name), _options.BytesColumnName, _options.ExtensionColumnName, GraphOutputs, _component);
    }

    /// <summary>The graph outputs <see cref="ClassifierPipeline"/> reads, and the columns they become.</summary>
    private (string, string)[] GraphOutputs => _binary
        ? [(BGptOnnxExporter.LogitsOutput, BinaryScoresFactory.InputColumn)]
        : [(BGptOnnxExporter.ProbabilitiesOutput, _options.ScoreColumnName)];

    private static readonly Lazy<byte[]> StandIn = new(() =>
    {
        var config = BGptConfig.Create(patchSize: 16, patchLength: 4, hiddenSize: 8, patchNumLayers: 1, byteNumLayers: 1);
        using var model = new BGptClassifier(config, 2);
        return BGptOnnxExporter.Export(ModelWeights.Export(model), config, new BGptOnnxOptions { Head = OnnxHead.Classifier });
    });
}

/// <summary>Sends training progress to the user's IProgress and, once per epoch, to MLContext.Log.</summary>
internal sealed class ProgressFanOut(IProgress<TrainingProgress>? user, MLContextLog log) : IProgress<TrainingProgress>
{
    private int _lastEpoch;

    public void Report(TrainingProgress value)
    {
        user?.Report(value);
        if (value.Epoch != _lastEpoch || value.Step == value.TotalSteps)
        {
            _lastEpoch = value.Epoch;
            log.Info($"epoch {value.Epoch}, step {value.Step}/{value.TotalSteps}: loss {value.Loss:F4}, lr {value.LearningRate:E2}, {value.BytesPerSecond:F0} bytes/s, ETA {value.Eta:hh\\:mm\\:ss}");
        }
    }
}
