using Microsoft.ML.BGpt;
using Microsoft.ML.BGpt.MLNet;

namespace Microsoft.ML;

/// <summary>bGPT trainers on ML.NET's catalogs (training needs this package and TorchSharp; the fitted models do not).</summary>
public static class BGptTrainerCatalog
{
    /// <summary>
    /// Fine-tunes bGPT on labeled files: a key-typed label and byte columns in; <c>Score</c> (class probabilities) and
    /// <c>PredictedLabel</c> (a key with the label's key values) out, served through ONNX Runtime.
    /// </summary>
    public static BGptClassificationEstimator BGpt(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, BGptClassifierOptions options) =>
        new(catalog, options, binary: false);

    /// <summary>Multiclass bGPT with default options from a pretrained checkpoint.</summary>
    public static BGptClassificationEstimator BGpt(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string pretrainedWeights, string labelColumnName = "Label", string bytesColumnName = "Bytes", string extensionColumnName = "Extension") =>
        new(catalog, new BGptClassifierOptions { PretrainedWeights = pretrainedWeights, LabelColumnName = labelColumnName, BytesColumnName = bytesColumnName, ExtensionColumnName = extensionColumnName }, binary: false);

    /// <summary>
    /// bGPT with no tuning: reads the training files and this machine's speed, then pretrains on the training bytes and
    /// fine-tunes within <see cref="BGptAutoClassifierOptions.TrainingTime"/> (see <see cref="BGptAutoRecipe"/>).
    /// Same output columns as <c>BGpt</c>.
    /// </summary>
    public static BGptAutoClassificationEstimator BGptAuto(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        BGptAutoClassifierOptions? options = null) => new(catalog, options ?? new BGptAutoClassifierOptions());

    /// <summary>
    /// Fine-tunes bGPT for a Boolean label: <c>Score</c> (logit difference), <c>Probability</c> and <c>PredictedLabel</c> out.
    /// </summary>
    public static BGptClassificationEstimator BGpt(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, BGptClassifierOptions options) =>
        new(catalog, options, binary: true);

    /// <summary>
    /// Generative pretraining of a bGPT language model on the rows' files; writes its checkpoint to
    /// <see cref="BGpt.Training.BGptTrainingOptions.CheckpointPath"/> and fits to a bits-per-byte scorer.
    /// </summary>
    public static BGptPretrainingEstimator PretrainBGpt(this TransformsCatalog catalog, BGptPretrainingOptions options) => new(catalog, options);
}
