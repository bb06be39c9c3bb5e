using Microsoft.ML.BGpt.Checkpoints;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>Builds TorchSharp bGPT models from checkpoints and checkpoints from models.</summary>
public static class BGptModels
{
    /// <summary>A language model (eval mode) from an LM checkpoint (<c>.pth</c> or safetensors).</summary>
    /// <exception cref="BGptCheckpointException">The file is not an LM checkpoint or does not match.</exception>
    public static BGptLMHeadModel LoadLanguageModel(string path) => LanguageModel(BGptCheckpoint.Load(path), path);

    /// <summary>A language model (eval mode) from a loaded LM checkpoint.</summary>
    public static BGptLMHeadModel LanguageModel(BGptCheckpoint checkpoint, string? source = null)
    {
        if (checkpoint.Kind != BGptCheckpointKind.LanguageModel)
            throw new BGptCheckpointException(source, "is a classifier checkpoint; a language model (with a byte-level decoder) is needed here.");
        var model = new BGptLMHeadModel(checkpoint.Config);
        ModelWeights.Load(model, checkpoint.Weights, source, Optional);
        model.eval();
        return model;
    }

    /// <summary>A classifier (eval mode) from a classifier checkpoint.</summary>
    public static BGptClassifier LoadClassifier(string path) => Classifier(BGptCheckpoint.Load(path), path);

    /// <summary>A classifier (eval mode) from a loaded classifier checkpoint.</summary>
    public static BGptClassifier Classifier(BGptCheckpoint checkpoint, string? source = null)
    {
        if (checkpoint.Kind != BGptCheckpointKind.Classifier)
            throw new BGptCheckpointException(source, "is a language-model checkpoint; it has no classifier head (fine-tune one first).");
        var model = new BGptClassifier(checkpoint.Config, checkpoint.Labels?.Count ?? ClassifierOutputs(checkpoint));
        ModelWeights.Load(model, checkpoint.Weights, source, Optional);
        model.eval();
        return model;
    }

    /// <summary>
    /// A classifier to fine-tune, as the original's train-cls.py: the patch-level decoder of any checkpoint (LM or
    /// classifier) and a freshly initialised head with <paramref name="labels"/> outputs.
    /// </summary>
    public static BGptClassifier ClassifierFromPretrained(BGptCheckpoint checkpoint, int labels, string? source = null)
    {
        // The head starts fresh, so a classifier checkpoint's own head (any label count) must not be shape-checked.
        var weights = checkpoint.Weights.Where(kv => !kv.Key.StartsWith("classifier.", StringComparison.Ordinal)).ToDictionary();
        var model = new BGptClassifier(checkpoint.Config, labels);
        ModelWeights.Load(model, weights, source, key => Optional(key) || key.StartsWith("classifier.", StringComparison.Ordinal));
        return model;
    }

    /// <summary>A checkpoint (original key names) holding a language model's weights.</summary>
    public static BGptCheckpoint ToCheckpoint(BGptLMHeadModel model) =>
        new(ModelWeights.Export(model), labels: null, numHeads: model.Config.NumHeads);

    /// <summary>A checkpoint holding a classifier's weights and its labels (in output order).</summary>
    public static BGptCheckpoint ToCheckpoint(BGptClassifier model, IReadOnlyList<string> labels) =>
        new(ModelWeights.Export(model), labels, model.Config.NumHeads);

    // The unused [1, H] token embedding of the patch decoder may be absent from third-party state dicts.
    private static bool Optional(string key) => key == "patch_level_decoder.base.wte.weight";

    private static int ClassifierOutputs(BGptCheckpoint checkpoint) => (int)checkpoint.Weights["classifier.weight"].Shape[0];
}
