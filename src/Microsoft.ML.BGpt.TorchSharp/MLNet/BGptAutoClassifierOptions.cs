using Microsoft.ML.BGpt.Training;

namespace Microsoft.ML.BGpt;

/// <summary>
/// Options of <c>mlContext.MulticlassClassification.Trainers.BGptAuto</c>: columns, a training-time budget and
/// feedback. Everything else (window, patch size, model size, pretraining, epochs, learning rates) is read off the
/// training data and this machine's measured speed by <see cref="BGptAutoRecipe"/>.
/// </summary>
public sealed class BGptAutoClassifierOptions
{
    /// <summary>Label column, a key (use MapValueToKey). Default "Label".</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>File bytes column (a vector of Byte, e.g. from <c>LoadFileBytes</c>). Default "Bytes".</summary>
    public string BytesColumnName { get; set; } = "Bytes";

    /// <summary>Extension bytes column (a vector of Byte). Default "Extension".</summary>
    public string ExtensionColumnName { get; set; } = "Extension";

    /// <summary>
    /// Sampling key column (ML.NET's name in <c>TrainTestSplit</c>): each row's group, such as the speaker, source package or
    /// document it comes from (Text, a number, a key or a Boolean). When set, the validation share held out of the
    /// training data (in pretraining and in fine-tuning) is made of whole groups, so the validation accuracy
    /// (and the best epoch chosen on it) measures sources training never saw, as new files will be: on filetypes' packages
    /// 84.5 % where random files read 97.5 % (docs/evaluation.md). Only training reads it; rows with empty text are each a
    /// group of their own. Default null (validation files are drawn at random, per label).
    /// </summary>
    public string? SamplingKeyColumnName { get; set; }

    /// <summary>Output: class probabilities. Default "Score".</summary>
    public string ScoreColumnName { get; set; } = "Score";

    /// <summary>Output: the predicted label, a key with the training label's key values. Default "PredictedLabel".</summary>
    public string PredictedLabelColumnName { get; set; } = "PredictedLabel";

    /// <summary>
    /// Wall-clock budget of the whole Fit: measuring this machine's speed, generative pretraining on the training
    /// bytes and fine-tuning. More time buys more epochs, which is what accuracy depends on most. Default 15 minutes.
    /// </summary>
    public TimeSpan TrainingTime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>torch intra-op threads while training; null (default) leaves torch's setting (all cores).</summary>
    public int? Threads { get; set; }

    /// <summary>ONNX Runtime intra-op threads of the fitted model; null (default) uses every core the process may use. A model loaded from a zip gets ONNX Runtime's default instead (ML.NET does not save thread settings).</summary>
    public int? InferenceThreads { get; set; }

    /// <summary>Serve the fitted model as an int8 graph (dynamic quantization). Default false.</summary>
    public bool QuantizeInference { get; set; }

    /// <summary>Seeds the model initialisation, the validation split, shuffling and dropout. Default 0.</summary>
    public int Seed { get; set; }

    /// <summary>
    /// Where to keep the pretrained language model (original checkpoint layout), or null (default) for a temporary
    /// file that is deleted after Fit. Written only when the recipe pretrains (<c>LastRecipe.Pretraining</c> is not
    /// null); otherwise a file already there is neither created nor changed.
    /// </summary>
    public string? PretrainedCheckpointPath { get; set; }

    /// <summary>Receives progress after every optimizer step of pretraining and of fine-tuning.</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    /// <summary>Stops training within one step; no half-written file is left.</summary>
    public CancellationToken CancellationToken { get; set; }
}
