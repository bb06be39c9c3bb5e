using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Training;

/// <summary>Checks and model preparation shared by the trainers.</summary>
internal static class TrainerSetup
{
    public const string PatchWte = "patch_level_decoder.base.wte.weight";

    public static void CheckData(IReadOnlyList<ByteExample> train, IReadOnlyList<ByteExample>? validation, int? labelCount, string what = "training")
    {
        ArgumentNullException.ThrowIfNull(train);
        if (train.Count == 0) throw new ArgumentException($"There are no {what} examples; at least one is needed.", nameof(train));
        if (labelCount is not { } count) return;
        CheckLabels(train, count, nameof(train));
        if (validation is not null) CheckLabels(validation, count, nameof(validation));
    }

    private static void CheckLabels(IReadOnlyList<ByteExample> examples, int count, string name)
    {
        for (int i = 0; i < examples.Count; i++)
            if ((uint)examples[i].Label >= (uint)count)
                throw new ArgumentException($"Example {i} of {name} has label {examples[i].Label}, outside [0, {count}); labels must be class indices.", name);
    }

    /// <summary>
    /// A fresh model with the run's dropout, drawn from the run's seed, then given <paramref name="weights"/>; without
    /// weights, its patch embedding is smoothed by <paramref name="byteValueSmoothing"/> when positive
    /// (<see cref="BGptTrainingOptions.ByteValueSmoothing"/>).
    /// </summary>
    public static T Build<T>(Func<T> create, IReadOnlyDictionary<string, TensorData>? weights, Func<string, bool> optional,
        double byteValueSmoothing, Func<T, PatchLevelDecoder> decoder) where T : nn.Module
    {
        var model = create();
        try
        {
            if (weights is not null) ModelWeights.Load(model, weights, "pretrained weights", optional);
            else if (byteValueSmoothing > 0) decoder(model).Embedding.SmoothAlongByteValues(byteValueSmoothing);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Copies every tensor of <paramref name="source"/> into <paramref name="target"/> (same architecture).</summary>
    public static void CopyWeights(nn.Module source, nn.Module target)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var from = source.state_dict();
        foreach (var (key, value) in target.state_dict()) value.copy_(from[key]);
    }

    /// <summary>Runs <paramref name="run"/>, disposing <paramref name="model"/> if it throws (the caller never sees it).</summary>
    public static TrainingResult<T> Own<T>(T model, Func<(List<EpochMetrics>, int, bool)> run) where T : nn.Module
    {
        try
        {
            var (history, best, early) = run();
            return new TrainingResult<T>(model, history, best, early);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
