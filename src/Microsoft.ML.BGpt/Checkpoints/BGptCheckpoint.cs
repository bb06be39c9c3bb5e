namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>
/// A bGPT model checkpoint in the original PyTorch naming: weights by state dict key, the configuration inferred
/// from their shapes, the classifier's labels, training metadata and optional AdamW state.
/// Reads and writes the original's files (torch.save zip) and safetensors without libtorch.
/// </summary>
public sealed partial class BGptCheckpoint
{
    private readonly List<StateDictEntry> _layout;

    /// <summary>
    /// Creates a checkpoint from state dict tensors (original key names). The kind and configuration are inferred;
    /// buffers (attn.bias, attn.masked_bias), the unused patch wte and one of the tied byte embeddings may be absent.
    /// </summary>
    /// <param name="weights">Tensors by original state dict key.</param>
    /// <param name="labels">Classifier labels in index order (classifiers only).</param>
    /// <param name="numHeads">Attention heads; default hidden / 64 (at least 1), as the original computes it.</param>
    /// <exception cref="BGptCheckpointException">Names or shapes do not form a bGPT model.</exception>
    public BGptCheckpoint(IEnumerable<KeyValuePair<string, TensorData>> weights, IReadOnlyList<string>? labels = null, int? numHeads = null)
        : this(weights, labels, numHeads, file: null) { }

    private BGptCheckpoint(IEnumerable<KeyValuePair<string, TensorData>> weights, IReadOnlyList<string>? labels, int? numHeads, string? file)
    {
        var input = new OrderedDictionary<string, TensorData>();
        foreach (var (k, v) in weights) input[k] = v ?? throw new BGptCheckpointException(file, "tensor is null.", k);
        var (kind, config, numLabels) = BGptConfigInference.Infer(input, numHeads, file);
        _layout = BGptStateDictLayout.Build(kind, config, numLabels);
        BGptConfigInference.Check(input, _layout, file);
        if (kind == BGptCheckpointKind.Classifier && labels is not null && labels.Count != numLabels)
            throw new BGptCheckpointException(file, $"{labels.Count} labels but the classifier has {numLabels} outputs.", BGptStateDictLayout.ClassifierWeight);

        // lm_head and the byte wte are one tensor in the original; loaders read wte, so fill it from lm_head.
        if (kind == BGptCheckpointKind.LanguageModel && !input.ContainsKey(BGptStateDictLayout.ByteWte)
            && input.TryGetValue(BGptStateDictLayout.LmHead, out var head))
            input[BGptStateDictLayout.ByteWte] = head;

        // Keep the original module order, whatever order the source had.
        var ordered = new OrderedDictionary<string, TensorData>();
        foreach (var e in _layout) if (input.TryGetValue(e.Key, out var t)) ordered[e.Key] = t;
        Kind = kind;
        Config = config;
        Weights = ordered;
        Labels = kind == BGptCheckpointKind.Classifier ? labels?.ToArray() : null;
    }

    /// <summary>Language model or classifier.</summary>
    public BGptCheckpointKind Kind { get; }

    /// <summary>The configuration implied by the tensor shapes.</summary>
    public BGptConfig Config { get; }

    /// <summary>Tensors by original state dict key (e.g. "patch_level_decoder.base.h.0.attn.c_attn.weight"), in module order.</summary>
    public IReadOnlyDictionary<string, TensorData> Weights { get; }

    /// <summary>Classifier labels in index order (from the checkpoint's {label: index} dict); null for language models.</summary>
    public IReadOnlyList<string>? Labels { get; }

    /// <summary>Training epoch ('epoch'), when stored.</summary>
    public int? Epoch { get; init; }

    /// <summary>Best epoch so far ('best_epoch'), when stored.</summary>
    public int? BestEpoch { get; init; }

    /// <summary>Best evaluation loss ('min_eval_loss', language models), when stored.</summary>
    public double? MinEvalLoss { get; init; }

    /// <summary>Best evaluation accuracy ('max_eval_acc', classifiers), when stored.</summary>
    public double? MaxEvalAccuracy { get; init; }

    /// <summary>AdamW state keyed by parameter name, when the checkpoint has an 'optimizer'.</summary>
    public AdamWState? Optimizer { get; init; }

    /// <summary>The learning-rate scheduler's state_dict ('lr_sched') as a raw object tree, kept for round trips.</summary>
    public object? LearningRateScheduler { get; init; }

    /// <summary>Parameter names in named_parameters() order: the order AdamW's indices refer to.</summary>
    public IReadOnlyList<string> ParameterNames => Parameters.Select(e => e.Key).ToList();

    private List<StateDictEntry> Parameters => _layout.Where(e => e.Role == EntryRole.Parameter).ToList();

    /// <summary>
    /// A classifier initialised as train-cls.py does: this checkpoint's patch-level decoder and a fresh
    /// classifier layer drawn like torch's nn.Linear default, U(-1/sqrt(H), 1/sqrt(H)).
    /// </summary>
    public BGptCheckpoint ToClassifier(IReadOnlyList<string> labels, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Count == 0) throw new ArgumentException("At least one label is needed.", nameof(labels));
        var rng = new Random(seed);
        float bound = 1f / MathF.Sqrt(Config.HiddenSize);
        float[] Draw(long n) => Enumerable.Range(0, (int)n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * bound).ToArray();
        var weights = Weights.Where(kv => kv.Key.StartsWith(BGptStateDictLayout.Patch, StringComparison.Ordinal)).ToList();
        weights.Add(new(BGptStateDictLayout.ClassifierWeight, TensorData.FromFloats(Draw((long)labels.Count * Config.HiddenSize), [labels.Count, Config.HiddenSize])));
        weights.Add(new(BGptStateDictLayout.ClassifierBias, TensorData.FromFloats(Draw(labels.Count), [labels.Count])));
        return new BGptCheckpoint(weights, labels, Config.NumHeads);
    }
}
