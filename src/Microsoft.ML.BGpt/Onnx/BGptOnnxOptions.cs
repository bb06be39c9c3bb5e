namespace Microsoft.ML.BGpt.Onnx;

/// <summary>What an exported bGPT ONNX model computes from its <c>bytes</c> and <c>extension</c> inputs.</summary>
public enum OnnxHead
{
    /// <summary>
    /// Output <c>features</c> float [1, H]: the mean over the patches of the patch-level decoder's last hidden
    /// state (bGPTForClassification's pooled features). Needs only the patch-level decoder's weights.
    /// </summary>
    Features = 0,

    /// <summary>
    /// Outputs <c>features</c> [1, H], <c>logits</c> [1, labels] and <c>probabilities</c> [1, labels] (softmax of
    /// the logits). Needs a classifier checkpoint (<c>classifier.weight</c>, <c>classifier.bias</c>).
    /// </summary>
    Classifier = 1,

    /// <summary>
    /// Outputs <c>features</c> [1, H], <c>loss</c> [1] (the original's LM loss: mean negative log-likelihood in nats
    /// of every byte of every patch after the first, each predicted teacher-forced by the byte-level decoder from
    /// the previous patch's feature) and <c>bits_per_byte</c> [1] (loss / ln 2). Needs a language-model checkpoint.
    /// </summary>
    BitsPerByte = 2,
}

/// <summary>Settings of <see cref="BGptOnnxExporter"/>.</summary>
public sealed record BGptOnnxOptions
{
    /// <summary>Lowest default-domain opset the exporter writes (LayerNormalization needs 17).</summary>
    public const int MinOpset = 17;

    /// <summary>Highest default-domain opset the exporter writes.</summary>
    public const int MaxOpset = 23;

    /// <summary>
    /// The default opset, 23 (ONNX Runtime 1.23 or later; this package brings 1.31): attention is ONNX's fused
    /// <c>Attention</c> operator. Hosts with an older runtime export with <see cref="MinOpset"/>.
    /// </summary>
    public const int DefaultOpset = FusedAttentionOpset;

    /// <summary>First opset with ONNX's fused <c>Attention</c> operator, which the exporter then writes.</summary>
    public const int FusedAttentionOpset = 23;

    /// <summary>The head (outputs) of the model. Default <see cref="OnnxHead.Features"/>.</summary>
    public OnnxHead Head { get; init; } = OnnxHead.Features;

    /// <summary>
    /// How the graph cuts inputs longer than <see cref="BGptConfig.PatchLength"/> patches: <see cref="TruncationStrategy.Head"/>
    /// (default, the original's inference), <see cref="TruncationStrategy.Tail"/> or <see cref="TruncationStrategy.HeadTail"/>.
    /// <see cref="TruncationStrategy.RandomCrop"/> is a training-time augmentation and is rejected.
    /// </summary>
    public TruncationStrategy Truncation { get; init; } = TruncationStrategy.Head;

    /// <summary>
    /// How <c>features</c> pools the patch-level decoder's output: <see cref="FeaturePooling.Mean"/> (default, the
    /// original's) or <see cref="FeaturePooling.LastPatch"/>. The <see cref="OnnxHead.Classifier"/> head was trained
    /// on mean-pooled features and accepts only <see cref="FeaturePooling.Mean"/>.
    /// </summary>
    public FeaturePooling Pooling { get; init; } = FeaturePooling.Mean;

    /// <summary>
    /// What to do with files over the patch budget: <see cref="LongFileStrategy.Truncate"/> (default, with
    /// <see cref="Truncation"/>) or <see cref="LongFileStrategy.WindowMean"/> (the mean of the pooled features of at
    /// most <see cref="MaxWindows"/> evenly spaced windows of (PatchLength - 2) x PatchSize content bytes; see
    /// docs/onnx.md). Window mean is for the <see cref="OnnxHead.Features"/> and <see cref="OnnxHead.Classifier"/>
    /// heads, without <see cref="IncludeLastHiddenState"/>; <see cref="Truncation"/> is then unused.
    /// </summary>
    public LongFileStrategy LongFiles { get; init; } = LongFileStrategy.Truncate;

    /// <summary>
    /// With <see cref="LongFileStrategy.WindowMean"/>: the most windows averaged, 1 to <see cref="MaxWindowsLimit"/>.
    /// Default 16. A file with K windows, K over the cap M, averages windows floor(i (K - 1) / (M - 1)), i = 0..M-1:
    /// evenly spaced, the first and the last included (M = 1: the first only).
    /// </summary>
    public int MaxWindows { get; init; } = 16;

    /// <summary>Largest allowed <see cref="MaxWindows"/> (4096).</summary>
    public const int MaxWindowsLimit = 4096;

    /// <summary>
    /// Default-domain opset, <see cref="MinOpset"/> to <see cref="MaxOpset"/>. Default <see cref="DefaultOpset"/> (23).
    /// From 20 on, GELU is the <c>Gelu(approximate="tanh")</c> operator; below it is written out with Tanh (a pattern
    /// ONNX Runtime fuses). From 23 on, attention is the fused <c>Attention</c> operator (causal); below it is written
    /// out as MatMul, additive mask and Softmax. The results agree (bitwise on ONNX Runtime's CPU provider).
    /// </summary>
    public int Opset { get; init; } = DefaultOpset;

    /// <summary>Also output <c>last_hidden_state</c> float [1, patches, H] (the patch-level decoder's output).</summary>
    public bool IncludeLastHiddenState { get; init; }

    /// <summary>Classifier labels in index order, stored in the model's metadata (<c>bgpt.labels</c>); optional.</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>Where the weights came from (a checkpoint path), used in error messages only.</summary>
    public string? Source { get; init; }

    /// <summary>The settings for a head, otherwise the defaults.</summary>
    public static BGptOnnxOptions For(OnnxHead head) => new() { Head = head };
}
