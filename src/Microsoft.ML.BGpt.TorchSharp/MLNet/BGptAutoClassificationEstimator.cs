using Microsoft.ML.BGpt.Training;

namespace Microsoft.ML.BGpt.MLNet;

/// <summary>
/// bGPT classification with no tuning: at <see cref="Fit"/> it reads the training files (length distribution, record
/// stride, class count, file count), measures this machine's training speed, and plans with <see cref="BGptAutoRecipe"/>
/// a small configuration, generative pretraining on the training bytes and fine-tuning, each bounded by its share of
/// <see cref="BGptAutoClassifierOptions.TrainingTime"/>. The result is the fine-tuned classifier's transformer, the same
/// as <c>MulticlassClassification.Trainers.BGpt</c> returns (served through ONNX Runtime).
/// </summary>
public sealed class BGptAutoClassificationEstimator : IEstimator<ITransformer>
{
    private const string Component = "MulticlassClassification.Trainers.BGptAuto";
    private readonly object _catalog;
    private readonly BGptAutoClassifierOptions _options;

    internal BGptAutoClassificationEstimator(object catalog, BGptAutoClassifierOptions options)
    {
        _catalog = catalog;
        _options = options ?? throw new ArgumentNullException(nameof(options));
    }

    /// <summary>The recipe the last <see cref="Fit"/> chose, with its rationale.</summary>
    public BGptRecipe? LastRecipe { get; private set; }

    /// <summary>Per-epoch fine-tuning metrics of the last <see cref="Fit"/>.</summary>
    public IReadOnlyList<EpochMetrics>? LastTrainingHistory { get; private set; }

    /// <summary>Plans, pretrains and fine-tunes on <paramref name="input"/> within the time budget.</summary>
    public ITransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (_options.TrainingTime <= TimeSpan.Zero)
            throw new ArgumentException($"{Component}: TrainingTime must be positive (got {_options.TrainingTime}).", nameof(input));
        foreach (var (name, value) in new[] { ("Threads", _options.Threads), ("InferenceThreads", _options.InferenceThreads) })
            if (value is < 1) throw new ArgumentException($"{Component}: {name} must be null or at least 1 (got {value}).", nameof(input));
        CheckColumns(input.Schema);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int classes = DataViewExamples.KeyLabels(input.Schema[_options.LabelColumnName]).Count;
        if (classes < 2) throw new InvalidOperationException($"{Component}: label column '{_options.LabelColumnName}' has a single class; classification needs at least two.");
        var files = DataViewExamples.Read(input, _options.BytesColumnName, _options.ExtensionColumnName, _options.LabelColumnName, binary: false, Component);
        var lengths = files.Select(f => (long)f.Content.Length).ToList();
        int every = Math.Max(1, files.Count / 48);
        var sample = files.Where((_, i) => i % every == 0).Take(48).Select(f => f.Content).ToList();
        files = null; // the trainers read the data view themselves

        var (_, speed, traits) = BGptAutoRecipe.Plan(lengths, classes, sample, threads: _options.Threads);
        var left = _options.TrainingTime - clock.Elapsed;
        var recipe = BGptAutoRecipe.Create(lengths, classes, left > TimeSpan.Zero ? left : TimeSpan.FromSeconds(1), speed, seed: _options.Seed, traits: traits);
        LastRecipe = recipe;
        using (var log = new MLContextLog(_catalog, "BGpt")) log.Info($"{Component}: {recipe.Rationale}");

        string? temp = null;
        try
        {
            var cls = recipe.Classifier;
            if (recipe.Pretraining is { } pre)
            {
                string checkpoint = _options.PretrainedCheckpointPath ?? (temp = Path.Combine(Path.GetTempPath(), $"bgpt-auto-{Guid.NewGuid():N}.pth"));
                pre.CheckpointPath = checkpoint;
                pre.BytesColumnName = _options.BytesColumnName;
                pre.ExtensionColumnName = _options.ExtensionColumnName;
                pre.SamplingKeyColumnName = _options.SamplingKeyColumnName;
                (pre.Threads, pre.Progress, pre.CancellationToken) = (_options.Threads, _options.Progress, _options.CancellationToken);
                var pretraining = System.Diagnostics.Stopwatch.StartNew();
                new BGptPretrainingEstimator(_catalog, pre).Fit(input);
                cls.PretrainedWeights = checkpoint;
                cls.MaxTrainingTime = BGptAutoRecipe.FineTuningTime(recipe, pretraining.Elapsed); // what pretraining left over
            }
            cls.LabelColumnName = _options.LabelColumnName;
            cls.BytesColumnName = _options.BytesColumnName;
            cls.ExtensionColumnName = _options.ExtensionColumnName;
            cls.SamplingKeyColumnName = _options.SamplingKeyColumnName;
            cls.ScoreColumnName = _options.ScoreColumnName;
            cls.PredictedLabelColumnName = _options.PredictedLabelColumnName;
            (cls.Threads, cls.InferenceThreads, cls.QuantizeInference) = (_options.Threads, _options.InferenceThreads, _options.QuantizeInference);
            (cls.Progress, cls.CancellationToken) = (_options.Progress, _options.CancellationToken);
            var estimator = new BGptClassificationEstimator(_catalog, cls, binary: false);
            var model = estimator.Fit(input);
            LastTrainingHistory = estimator.LastTrainingHistory;
            return model;
        }
        finally
        {
            if (temp is not null) File.Delete(temp);
        }
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        // Checked here, so that errors name this trainer rather than the one it hands the output shape to.
        SchemaChecks.Label(inputSchema, _options.LabelColumnName, Component, binary: false);
        SchemaChecks.ByteVector(inputSchema, _options.BytesColumnName, Component);
        SchemaChecks.ByteVector(inputSchema, _options.ExtensionColumnName, Component);
        SchemaChecks.SamplingKey(inputSchema, _options.SamplingKeyColumnName, Component);
        return Serving(inputSchema);
    }

    private SchemaShape Serving(SchemaShape inputSchema) => new BGptClassificationEstimator(_catalog, new BGptClassifierOptions
    {
        LabelColumnName = _options.LabelColumnName, BytesColumnName = _options.BytesColumnName, ExtensionColumnName = _options.ExtensionColumnName,
        ScoreColumnName = _options.ScoreColumnName, PredictedLabelColumnName = _options.PredictedLabelColumnName,
    }, binary: false).GetOutputSchema(inputSchema);

    private void CheckColumns(DataViewSchema schema)
    {
        SchemaChecks.Label(schema, _options.LabelColumnName, Component, binary: false);
        SchemaChecks.ByteVector(schema, _options.BytesColumnName, Component);
        SchemaChecks.ByteVector(schema, _options.ExtensionColumnName, Component);
        SchemaChecks.SamplingKey(schema, _options.SamplingKeyColumnName, Component);
        // Checked before the run, not by the fine-tuning trainer after pretraining has taken its share of the budget.
        OnnxPipeline.CheckNames(schema.Select(c => c.Name), _options.BytesColumnName, _options.ExtensionColumnName,
            [(Onnx.BGptOnnxExporter.ProbabilitiesOutput, _options.ScoreColumnName)], Component);
    }
}
