using Microsoft.ML.BGpt.Training;

namespace Microsoft.ML.BGpt;

/// <summary>
/// Options of <c>mlContext.MulticlassClassification.Trainers.BGpt</c> and <c>mlContext.BinaryClassification.Trainers.BGpt</c>:
/// the training settings of <see cref="ClassifierTrainingOptions"/> plus columns, the starting point and feedback.
/// Every setting is a plain property, so sweepers (AutoML) can drive it.
/// </summary>
public class BGptClassifierOptions : ClassifierTrainingOptions
{
    /// <summary>Label column: a key (multiclass; use MapValueToKey) or a Boolean (binary). Default "Label".</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>File bytes column (a vector of Byte, e.g. from <c>LoadFileBytes</c>). Default "Bytes".</summary>
    public string BytesColumnName { get; set; } = "Bytes";

    /// <summary>Extension bytes column (a vector of Byte). Default "Extension".</summary>
    public string ExtensionColumnName { get; set; } = "Extension";

    /// <summary>
    /// Sampling key column (ML.NET's name in <c>TrainTestSplit</c>): each row's group, such as the speaker, source package or
    /// document it comes from (Text, a number, a key or a Boolean). When set, the validation share held out of the
    /// training data (<see cref="BGptTrainingOptions.ValidationFraction"/>) is made of whole groups, so the validation accuracy
    /// (and the best epoch chosen on it) measures sources training never saw, as new files will be: on filetypes' packages
    /// 84.5 % where random files read 97.5 % (docs/evaluation.md). Only training reads it; rows with empty text are each a
    /// group of their own. Default null (validation files are drawn at random, per label).
    /// </summary>
    public string? SamplingKeyColumnName { get; set; }

    /// <summary>Output: class probabilities (multiclass) or the raw score (binary). Default "Score".</summary>
    public string ScoreColumnName { get; set; } = "Score";

    /// <summary>Output: the predicted label, a key with the training label's key values (multiclass) or a Boolean (binary). Default "PredictedLabel".</summary>
    public string PredictedLabelColumnName { get; set; } = "PredictedLabel";

    /// <summary>Output of binary classification: the probability of true. Default "Probability".</summary>
    public string ProbabilityColumnName { get; set; } = "Probability";

    /// <summary>
    /// A checkpoint to fine-tune from: the original's <c>.pth</c> or <c>.safetensors</c>, a language model (for example from
    /// <c>PretrainBGpt</c>) or a classifier. Only its patch-level decoder is taken, unless it is a classifier with the same
    /// labels in the same order (as its stored label names say; a checkpoint without label names needs the same number
    /// of classes), whose head is kept too. Null (default) trains from scratch with <see cref="Config"/>; the bGPT authors
    /// found that clearly worse.
    /// </summary>
    public string? PretrainedWeights { get; set; }

    /// <summary>The architecture when training from scratch (ignored with <see cref="PretrainedWeights"/>). Default: the paper's (110M parameters).</summary>
    public BGptConfig? Config { get; set; }

    /// <summary>ONNX Runtime intra-op threads of the fitted model; null (default) uses every core the process may use. A model loaded from a zip gets ONNX Runtime's default instead (ML.NET does not save thread settings).</summary>
    public int? InferenceThreads { get; set; }

    /// <summary>Serve the fitted model as an int8 graph (dynamic quantization): about 2.2–2.4x faster at 8 KB for the paper's model, weights a quarter of the size, slightly less exact (docs/benchmarks.md). Default false.</summary>
    public bool QuantizeInference { get; set; }

    /// <summary>Receives progress after every optimizer step (epoch, step, loss, learning rate, validation accuracy, bytes/s, ETA).</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    /// <summary>Stops training within one step; no half-written file is left.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        Require(InferenceThreads is null || InferenceThreads >= 1, nameof(InferenceThreads), $"must be null or at least 1 (got {InferenceThreads})");
    }
}

/// <summary>
/// Options of <c>mlContext.Transforms.PretrainBGpt</c>: generative (next-byte) pretraining of the full bGPT language model.
/// </summary>
public class BGptPretrainingOptions : PretrainingOptions
{
    /// <summary>File bytes column. Default "Bytes".</summary>
    public string BytesColumnName { get; set; } = "Bytes";

    /// <summary>Extension bytes column. Default "Extension".</summary>
    public string ExtensionColumnName { get; set; } = "Extension";

    /// <inheritdoc cref="BGptClassifierOptions.SamplingKeyColumnName"/>
    public string? SamplingKeyColumnName { get; set; }

    /// <summary>Output column of the fitted transformer: each file's bits per byte under the trained LM. Default "BitsPerByte".</summary>
    public string OutputColumnName { get; set; } = "BitsPerByte";

    /// <summary>A language-model checkpoint to continue from; null (default) starts from random weights with <see cref="Config"/>.</summary>
    public string? PretrainedWeights { get; set; }

    /// <summary>The architecture when starting from scratch. Default: the paper's.</summary>
    public BGptConfig? Config { get; set; }

    /// <summary>ONNX Runtime intra-op threads of the fitted scorer; null uses every core the process may use.</summary>
    public int? InferenceThreads { get; set; }

    /// <summary>Receives progress after every optimizer step.</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    /// <summary>Stops training within one step.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        Require(InferenceThreads is null || InferenceThreads >= 1, nameof(InferenceThreads), $"must be null or at least 1 (got {InferenceThreads})");
    }
}
