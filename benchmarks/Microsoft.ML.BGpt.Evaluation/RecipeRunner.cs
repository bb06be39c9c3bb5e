using Microsoft.ML.BGpt.Training;

namespace Microsoft.ML.BGpt.Evaluation;

/// <summary>One trained-and-tested model.</summary>
internal sealed record RunResult(string Name, string Description, ClassMetrics Metrics, List<PhaseResult> Phases,
    IReadOnlyList<EpochMetrics>? FineTuneHistory = null)
{
    public TimeSpan TrainTime => Phases.Where(p => p.Name != "predict").Aggregate(TimeSpan.Zero, (a, p) => a + p.Wall);
    public TimeSpan PredictTime => Phases.Where(p => p.Name == "predict").Aggregate(TimeSpan.Zero, (a, p) => a + p.Wall);
    public long PeakBytes => Phases.Max(p => p.PeakBytes);
}

/// <summary>
/// Trains bGPT with the public ML.NET API: <c>Transforms.PretrainBGpt</c> on the training bytes, then
/// <c>MulticlassClassification.Trainers.BGpt</c> from that checkpoint (validation is split off the training data by the
/// trainer), then scores the test split through the fitted (ONNX) model.
/// </summary>
internal static class RecipeRunner
{
    public const string ExtensionColumn = nameof(EvalRow.NoExtension);

    public static RunResult Run(MLContext ml, string name, BGptRecipe recipe, IDataView train, IDataView test, string workDir,
        int? threads, string? reuseCheckpoint = null, string? groupColumn = null)
    {
        var phases = new List<PhaseResult>();
        string? checkpoint = reuseCheckpoint;
        var planned = recipe.Classifier.MaxTrainingTime;
        var fineTuningTime = planned;
        if (recipe.Pretraining is { } pre && checkpoint is null)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            checkpoint = Path.Combine(workDir, $"{Slug(name)}-lm.pth");
            File.Delete(checkpoint);
            pre.CheckpointPath = checkpoint;
            pre.ExtensionColumnName = ExtensionColumn;
            pre.SamplingKeyColumnName = groupColumn;
            pre.Threads = threads;
            pre.Progress = new Printer("pretrain");
            PhaseMeter.Run("pretrain", phases, () => ml.Transforms.PretrainBGpt(pre).Fit(train));
            fineTuningTime = BGptAutoRecipe.FineTuningTime(recipe, clock.Elapsed); // as BGptAutoClassificationEstimator does
        }
        var cls = recipe.Classifier;
        cls.MaxTrainingTime = fineTuningTime;
        cls.PretrainedWeights = recipe.Pretraining is null ? null : checkpoint;
        cls.ExtensionColumnName = ExtensionColumn;
        cls.SamplingKeyColumnName = groupColumn;
        cls.Threads = threads;
        cls.InferenceThreads = threads;
        cls.Progress = new Printer("fine-tune");
        var estimator = ml.MulticlassClassification.Trainers.BGpt(cls);
        ITransformer model;
        try { model = PhaseMeter.Run("fine-tune", phases, () => estimator.Fit(train)); }
        finally { cls.MaxTrainingTime = planned; } // the ablations copy the recipe's own plan
        var metrics = PhaseMeter.Run("predict", phases, () => ClassMetrics.FromScored(model.Transform(test)));
        Console.WriteLine($"  {name}: accuracy {metrics.Accuracy:P2}, macro-F1 {metrics.MacroF1:F4}");
        return new RunResult(name, recipe.Rationale, metrics, phases, estimator.LastTrainingHistory);
    }

    public static string Slug(string name) => new(name.Select(c => char.IsLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray());

    /// <summary>Prints a line every 25 steps and at the end of each epoch.</summary>
    private sealed class Printer(string phase) : IProgress<TrainingProgress>
    {
        private int _epoch;
        public void Report(TrainingProgress p)
        {
            if (p.Step % 25 != 0 && p.Step != p.TotalSteps && p.Epoch == _epoch) return;
            _epoch = p.Epoch;
            Console.WriteLine($"    {phase} epoch {p.Epoch} step {p.Step}/{p.TotalSteps}: loss {p.Loss:F3}, {p.BytesPerSecond:F0} B/s, " +
                $"val acc {(p.ValidationAccuracy is { } a ? a.ToString("P1") : "-")}, ETA {p.Eta:mm\\:ss}");
        }
    }
}
