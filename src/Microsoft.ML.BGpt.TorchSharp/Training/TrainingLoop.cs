using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Training;

/// <summary>
/// The epoch loop shared by classification and pretraining: AdamW with the cosine schedule really applied to its
/// learning rate, gradient accumulation and clipping, NaN/Inf detection, validation, best-epoch tracking,
/// checkpoints, early stopping and cancellation between batches. Every batch's tensors live in their own dispose
/// scope, so memory stays flat over a run.
/// </summary>
internal sealed class TrainingLoop(ITrainingObjective objective, BGptConfig config, BGptTrainingOptions options, IReadOnlyList<string>? labels)
{
    private readonly nn.Module _model = objective.Model;

    public (List<EpochMetrics> History, int BestEpoch, bool StoppedEarly) Run(IReadOnlyList<ByteExample> train,
        IReadOnlyList<ByteExample> validation, IProgress<TrainingProgress>? progress, CancellationToken ct)
    {
        var trainBatches = new ExampleBatcher(train, config, options.BatchSize);
        var evalBatches = validation.Count > 0 ? new ExampleBatcher(validation, config, options.BatchSize) : null;
        int stepsPerEpoch = (trainBatches.BatchCount + options.GradientAccumulationSteps - 1) / options.GradientAccumulationSteps;
        var schedule = new CosineSchedule(options.LearningRate, options.WarmupFraction, options.Epochs * stepsPerEpoch);
        var parameters = _model.parameters().ToList();
        using var optimizer = new BGptAdamW(parameters, options.LearningRate, 0.9, 0.999, 1e-8, options.WeightDecay);

        var state = options.ResumeFrom is { } resume
            ? TrainingCheckpoints.Load(resume, _model, optimizer, stepsPerEpoch)
            : new TrainingState(0, 0, null, 0);
        using var copy = options.Precision == TrainingPrecision.BFloat16Mixed ? new BFloat16Copy(_model, objective.CreateLike()) : null;
        var compute = copy is null ? objective : objective.On(copy.Model);
        bool keepBest = options.RestoreBestEpoch && evalBatches is not null;
        var run = new RunClock(schedule.TotalSteps);
        var history = new List<EpochMetrics>();
        Dictionary<string, Tensor>? bestWeights = keepBest && state.Best is not null ? Snapshot() : null;
        int firstEpoch = state.CompletedEpochs + 1, lastEpoch = options.Epochs;
        try
        {
            for (int epoch = firstEpoch; epoch <= lastEpoch; epoch++)
            {
                var watch = Stopwatch.StartNew();
                var (trainLoss, bytesPerSecond, steps) = TrainEpoch(epoch, trainBatches, schedule, optimizer, parameters, compute, copy, run, progress, ct);
                var (loss, accuracy, bitsPerByte) = evalBatches is null ? (default(double?), default(double?), default(double?)) : Validate(evalBatches, epoch, ct);
                var metrics = new EpochMetrics(epoch, trainLoss, loss, accuracy, bitsPerByte, watch.Elapsed.TotalSeconds, bytesPerSecond, false);
                options.AfterEpoch?.Invoke(epoch, _model);
                bool improved = evalBatches is null || state.Best is null || objective.IsBetter(metrics, state.Best);
                // Kept: better, or as good within the validation set's noise; state.Best stays the best seen, the yardstick.
                bool kept = improved || objective.IsAsGood(metrics, state.Best!, validation.Count);
                if (kept) metrics = metrics with { IsBest = true };
                history.Add(metrics);
                run.LastAccuracy = accuracy ?? run.LastAccuracy;

                // With a time budget the learning rate follows the share of the budget used (see LearningRate), so the
                // epoch count can follow the speed both ways without a jump in the schedule: the first epochs of a
                // process run slower (1.5-2x at 2 KB files), and a plan fixed by them left a fifth of the budget unused.
                if (options.MaxTrainingTime is { } budget)
                {
                    lastEpoch = Math.Min(options.Epochs, EpochsThatFit(budget, run.Elapsed, epoch, metrics.Seconds));
                    run.TotalSteps = lastEpoch * stepsPerEpoch;
                }

                state = improved ? new TrainingState(epoch, epoch, metrics, steps)
                    : kept ? state with { CompletedEpochs = epoch, BestEpoch = epoch, OptimizerSteps = steps }
                    : state with { CompletedEpochs = epoch, OptimizerSteps = steps };
                if (kept)
                {
                    if (keepBest) { Dispose(bestWeights); bestWeights = Snapshot(); }
                    if (options.CheckpointPath is { } path)
                        TrainingCheckpoints.Save(path, _model, optimizer, state, schedule.Peak, LearningRate(schedule, run, Math.Max(0, steps - 1)), options.WeightDecay, labels);
                }
                else if (options.EarlyStoppingPatience > 0 && epoch - state.BestEpoch >= options.EarlyStoppingPatience && epoch < lastEpoch)
                    return Finish(history, state, bestWeights, stoppedEarly: true);
            }
            return Finish(history, state, bestWeights, stoppedEarly: false);
        }
        finally
        {
            Dispose(bestWeights);
        }
    }

    private (double Loss, double BytesPerSecond, int Steps) TrainEpoch(int epoch, ExampleBatcher batches,
        CosineSchedule schedule, BGptAdamW optimizer, List<Parameter> parameters, ITrainingObjective compute, BFloat16Copy? copy,
        RunClock run, IProgress<TrainingProgress>? progress, CancellationToken ct)
    {
        // A seed per epoch: a resumed run gets the same order, crops and dropout masks as an uninterrupted one.
        int seed = Seeds.Derive(options.Seed, Seeds.Epoch, epoch);
        manual_seed(seed);
        var random = new Random(seed);
        _model.train();
        copy?.Model.train();
        optimizer.ZeroGrad();
        var watch = Stopwatch.StartNew();
        int step = (epoch - 1) * ((batches.BatchCount + options.GradientAccumulationSteps - 1) / options.GradientAccumulationSteps);
        int index = 0, micro = 0, group = 0;
        double lossSum = 0, stepLoss = 0, lr = 0;
        long tokens = 0;
        foreach (var batch in batches.Batches(options.TrainTruncation, random, options.ByteShift, options.Resampling))
        {
            ct.ThrowIfCancellationRequested();
            if (micro == 0)
            {
                group = Math.Min(options.GradientAccumulationSteps, batches.BatchCount - index);
                lr = LearningRate(schedule, run, step);
                optimizer.LearningRate = lr;
            }
            using (NewDisposeScope())
            {
                var loss = compute.TrainingLoss(batch);
                double value = loss.item<float>();
                if (!double.IsFinite(value)) throw new TrainingDivergedException(epoch, step + 1, lr, "training loss");
                (group == 1 ? loss : loss / group).backward();
                copy?.AccumulateGradients(first: micro == 0);
                lossSum += value;
                stepLoss += value / group;
            }
            tokens += batch.RealTokens;
            index++;
            if (++micro < group) continue;

            using (NewDisposeScope())
            {
                // Infinite max norm measures without clipping, so non-finite gradients are caught either way.
                var withGrad = parameters.Where(p => p.grad is not null).ToList();
                double norm = nn.utils.clip_grad_norm_(withGrad, options.MaxGradNorm > 0 ? options.MaxGradNorm : double.PositiveInfinity);
                if (!double.IsFinite(norm)) throw new TrainingDivergedException(epoch, step + 1, lr, "gradient norm");
                optimizer.Step();
                if (copy is null) optimizer.ZeroGrad(); // mixed precision overwrites the master's gradients instead
                copy?.Sync();
            }
            step++;
            run.StepDone();
            progress?.Report(new TrainingProgress(epoch, step, run.TotalSteps, stepLoss, lr, run.LastAccuracy,
                tokens / Math.Max(1e-9, watch.Elapsed.TotalSeconds), run.Eta(step)));
            micro = 0;
            stepLoss = 0;
        }
        return (lossSum / Math.Max(1, index), tokens / Math.Max(1e-9, watch.Elapsed.TotalSeconds), step);
    }

    /// <summary>
    /// The schedule's rate at <paramref name="step"/>; with a time budget, at the larger of the steps' share of
    /// <see cref="BGptTrainingOptions.Epochs"/> and the time's share of the budget, so it reaches 0 when either runs out
    /// and never rises again when the speed changes.
    /// </summary>
    private double LearningRate(CosineSchedule schedule, RunClock run, int step) => options.MaxTrainingTime is { } budget
        ? schedule.AtFraction(Math.Max(schedule.FractionOf(step), run.Elapsed / budget))
        : schedule.At(step);

    /// <summary>
    /// The last epoch that fits <paramref name="budget"/> when every further epoch takes as long as the one just finished
    /// (<paramref name="lastEpochSeconds"/>; the run has used <paramref name="elapsed"/>), never before <paramref name="epoch"/>.
    /// </summary>
    internal static int EpochsThatFit(TimeSpan budget, TimeSpan elapsed, int epoch, double lastEpochSeconds)
    {
        double left = budget.TotalSeconds - elapsed.TotalSeconds;
        return epoch + (int)Math.Floor(Math.Max(0, left) / Math.Max(1e-9, lastEpochSeconds));
    }

    private (double? Loss, double? Accuracy, double? BitsPerByte) Validate(ExampleBatcher batches, int epoch, CancellationToken ct)
    {
        var result = Evaluation.Run(objective, batches, options.EvalTruncation, ct);
        if (!double.IsFinite(result.Loss)) throw new TrainingDivergedException(epoch, 0, double.NaN, "validation loss");
        return (result.Loss, result.Accuracy, result.BitsPerByte);
    }

    private (List<EpochMetrics>, int, bool) Finish(List<EpochMetrics> history, TrainingState state, Dictionary<string, Tensor>? best, bool stoppedEarly)
    {
        int last = history.Count > 0 ? history[^1].Epoch : state.CompletedEpochs;
        int kept = last;
        if (best is not null && state.BestEpoch != last)
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            foreach (var (key, value) in _model.state_dict()) value.copy_(best[key]);
            kept = state.BestEpoch;
        }
        _model.eval();
        return (history, kept, stoppedEarly);
    }

    private Dictionary<string, Tensor> Snapshot()
    {
        using var scope = NewDisposeScope(); // takes the detach() views; the clones are kept
        return _model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromDisposeScope());
    }

    private static void Dispose(Dictionary<string, Tensor>? weights)
    {
        if (weights is null) return;
        foreach (var t in weights.Values) t.Dispose();
        weights.Clear();
    }

    /// <summary>Time per optimizer step in this call, for the ETA; and the last validation accuracy for progress reports.</summary>
    private sealed class RunClock(int totalSteps)
    {
        private readonly Stopwatch _watch = Stopwatch.StartNew();
        private int _steps;

        public int TotalSteps { get; set; } = totalSteps;

        public TimeSpan Elapsed => _watch.Elapsed;

        public double? LastAccuracy { get; set; }

        public void StepDone() => _steps++;

        public TimeSpan Eta(int step) => _steps == 0 ? TimeSpan.Zero
            : TimeSpan.FromSeconds(_watch.Elapsed.TotalSeconds / _steps * Math.Max(0, TotalSteps - step));
    }
}
