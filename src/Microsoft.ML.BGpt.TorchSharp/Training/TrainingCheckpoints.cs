using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Training;

/// <summary>
/// The one place where training writes and reads checkpoints: the original's training-checkpoint layout (model,
/// AdamW state, a LambdaLR-like 'lr_sched', epoch, best epoch, best metric, labels), through <see cref="BGptCheckpoint"/>.
/// </summary>
internal static class TrainingCheckpoints
{
    // Stored transposed here ([P * 257, H]); the original's Linear weight, and so its AdamW moments, are [H, P * 257].
    private const string PatchEmbeddingWeight = "patch_level_decoder.patch_embedding.weight";

    /// <summary>Writes atomically (temporary file, then move): a reader never sees a half-written file.</summary>
    public static void Save(string path, nn.Module model, BGptAdamW optimizer, TrainingState state, double peakLearningRate,
        double currentLearningRate, double weightDecay, IReadOnlyList<string>? labels)
    {
        var config = model is BGptClassifier c ? c.Config : ((BGptLMHeadModel)model).Config;
        var checkpoint = new BGptCheckpoint(ModelWeights.Export(model), labels, config.NumHeads)
        {
            Epoch = state.CompletedEpochs,
            BestEpoch = state.BestEpoch,
            MinEvalLoss = model is BGptLMHeadModel ? state.Best?.ValidationLoss : null,
            MaxEvalAccuracy = model is BGptClassifier ? state.Best?.ValidationAccuracy : null,
            Optimizer = ExportOptimizer(model, optimizer, peakLearningRate, currentLearningRate, weightDecay),
            LearningRateScheduler = SchedulerState(state.OptimizerSteps, peakLearningRate, currentLearningRate),
        };
        checkpoint.Save(path, CheckpointFormat.TrainingCheckpoint);
    }

    /// <summary>Loads weights and AdamW moments into <paramref name="model"/> and <paramref name="optimizer"/>; returns where the run stood.</summary>
    public static TrainingState Load(string path, nn.Module model, BGptAdamW optimizer, int stepsPerEpoch)
    {
        var config = model is BGptClassifier c ? c.Config : ((BGptLMHeadModel)model).Config;
        var checkpoint = BGptCheckpoint.Load(path, config.NumHeads);
        var expected = model is BGptClassifier ? BGptCheckpointKind.Classifier : BGptCheckpointKind.LanguageModel;
        if (checkpoint.Kind != expected)
            throw new BGptCheckpointException(path, $"is a {checkpoint.Kind} checkpoint; resuming needs a {expected} one.");
        ModelWeights.Load(model, checkpoint.Weights, path, key => key == "patch_level_decoder.base.wte.weight");
        if (checkpoint.Optimizer is { } adam) ImportOptimizer(model, optimizer, adam);

        int epoch = checkpoint.Epoch ?? 0, best = checkpoint.BestEpoch ?? epoch;
        EpochMetrics? bestMetrics = checkpoint.MinEvalLoss is { } l && double.IsFinite(l)
            ? new EpochMetrics(best, double.NaN, l, null, l / Math.Log(2), 0, 0, true)
            : checkpoint.MaxEvalAccuracy is { } a
                // The original stores no loss for classifiers, so ties in accuracy go to the newer epoch.
                ? new EpochMetrics(best, double.NaN, double.PositiveInfinity, a, null, 0, 0, true)
                : null;
        return new TrainingState(epoch, best, bestMetrics, epoch * stepsPerEpoch);
    }

    private static AdamWState ExportOptimizer(nn.Module model, BGptAdamW optimizer, double peak, double lr, double weightDecay)
    {
        var names = model.named_parameters().Select(p => p.name).ToList();
        var result = new OrderedDictionary<string, AdamWParameterState>();
        for (int i = 0; i < names.Count; i++)
        {
            if (optimizer.StateOf(i) is not { } s) continue; // never stepped (no gradient): torch has no entry either
            result[names[i]] = new AdamWParameterState(s.Step, ToData(s.ExpAvg, names[i]), ToData(s.ExpAvgSq, names[i]));
        }
        var group = new PickleDict
        {
            ["lr"] = lr, ["betas"] = new object?[] { 0.9, 0.999 }, ["eps"] = 1e-8, ["weight_decay"] = weightDecay,
            ["amsgrad"] = false, ["foreach"] = null, ["maximize"] = false, ["capturable"] = false,
            ["initial_lr"] = peak, ["params"] = new List<object?>(),
        };
        return new AdamWState(result, [group]);
    }

    private static void ImportOptimizer(nn.Module model, BGptAdamW optimizer, AdamWState adam)
    {
        var names = model.named_parameters().Select(p => p.name).ToList();
        for (int i = 0; i < names.Count; i++)
        {
            if (!adam.Parameters.TryGetValue(names[i], out var saved)) continue;
            using var scope = NewDisposeScope();
            optimizer.SetState(i, (long)Math.Round(saved.Step), Moment(saved.ExpAvg, names[i]), Moment(saved.ExpAvgSq, names[i]));
        }
    }

    private static TensorData ToData(Tensor t, string name)
    {
        using var scope = NewDisposeScope();
        var value = (name == PatchEmbeddingWeight ? t.t() : t).contiguous().cpu().to_type(ScalarType.Float32);
        return TensorData.FromFloats(value.data<float>().ToArray(), value.shape);
    }

    private static Tensor Moment(TensorData data, string name)
    {
        var source = tensor(data.ToFloatArray(), data.Shape);
        return name == PatchEmbeddingWeight ? source.t() : source;
    }

    // torch's LambdaLR.state_dict() after OptimizerSteps steps, so the original's train scripts can resume from our files.
    private static PickleDict SchedulerState(int steps, double peak, double lr) => new()
    {
        ["base_lrs"] = new List<object?> { peak }, ["last_epoch"] = (long)steps, ["verbose"] = false,
        ["_step_count"] = (long)steps + 1, ["_get_lr_called_within_step"] = false,
        ["_last_lr"] = new List<object?> { lr }, ["lr_lambdas"] = new List<object?> { null },
    };
}
