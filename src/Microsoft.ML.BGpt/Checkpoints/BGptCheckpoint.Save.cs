using System.Globalization;
using System.Text.Json;

namespace Microsoft.ML.BGpt.Checkpoints;

public sealed partial class BGptCheckpoint
{
    private const string MetaLabels = "labels";
    private const string MetaHeads = "num_heads";

    /// <summary>
    /// Writes the checkpoint in one of the original's layouts or as safetensors, through a temporary file in the
    /// same folder (an existing file is replaced only once the new one is complete). State dicts always hold every
    /// key of the original modules (buffers, the unused patch wte and both tied byte embeddings), so the original's
    /// strict load_state_dict accepts them.
    /// </summary>
    public void Save(string path, CheckpointFormat format)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            switch (format)
            {
                case CheckpointFormat.StateDict: PthWriter.Write(path, ToStateDict()); break;
                case CheckpointFormat.TrainingCheckpoint: PthWriter.Write(path, ToTrainingCheckpoint()); break;
                case CheckpointFormat.Safetensors:
                    SafetensorsWriter.Write(path, ToStateDict().Select(kv => new KeyValuePair<string, TensorData>((string)kv.Key, (TensorData)kv.Value!)), SafetensorsMetadata());
                    break;
                default: throw new ArgumentOutOfRangeException(nameof(format), format, null);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new BGptCheckpointException(path, $"cannot be written: {e.Message}", inner: e);
        }
    }

    /// <summary>The full state dict of the original module (an OrderedDict), missing buffers filled in.</summary>
    public PickleDict ToStateDict()
    {
        var dict = new PickleDict(isOrderedDict: true);
        Weights.TryGetValue(BGptStateDictLayout.ByteWte, out var wte);
        Weights.TryGetValue(BGptStateDictLayout.LmHead, out var head);
        // Tied weights: write one TensorData instance twice so torch gets one shared storage, as it saved it.
        if (wte is null || (head is not null && head.ContentEquals(wte))) wte = head;
        foreach (var e in _layout)
        {
            dict[e.Key] = e.Role switch
            {
                EntryRole.TiedLmHead => head is not null && !head.ContentEquals(wte) ? head : wte,
                EntryRole.CausalMask or EntryRole.MaskedBias => Weights.GetValueOrDefault(e.Key) ?? BGptStateDictLayout.CreateBuffer(e),
                _ when e.Key == BGptStateDictLayout.ByteWte => wte,
                _ => Weights.GetValueOrDefault(e.Key) ?? TensorData.FromFloats(new float[TensorData.CountElements(e.Shape)], e.Shape),
            };
        }
        return dict;
    }

    private PickleDict ToTrainingCheckpoint()
    {
        // Key order and defaults as train-gen.py / train-cls.py (a fresh run starts at epoch 0, loss inf, accuracy 0).
        var dict = new PickleDict { ["model"] = ToStateDict() };
        if (Optimizer is not null) dict["optimizer"] = Optimizer.ToTorch(Parameters);
        if (LearningRateScheduler is not null) dict["lr_sched"] = LearningRateScheduler;
        dict["epoch"] = (long)(Epoch ?? 0);
        dict["best_epoch"] = (long)(BestEpoch ?? 0);
        if (Kind == BGptCheckpointKind.LanguageModel) dict["min_eval_loss"] = MinEvalLoss ?? double.PositiveInfinity;
        else
        {
            dict["max_eval_acc"] = MaxEvalAccuracy ?? 0.0;
            var labels = new PickleDict();
            var names = Labels ?? Enumerable.Range(0, (int)Weights[BGptStateDictLayout.ClassifierWeight].Shape[0]).Select(i => $"LABEL_{i}").ToList();
            for (int i = 0; i < names.Count; i++) labels[names[i]] = (long)i;
            dict["labels"] = labels;
        }
        return dict;
    }

    private Dictionary<string, string> SafetensorsMetadata()
    {
        var m = new Dictionary<string, string> { ["format"] = "pt", ["bgpt_kind"] = Kind.ToString(), [MetaHeads] = Config.NumHeads.ToString(CultureInfo.InvariantCulture) };
        if (Labels is not null) m[MetaLabels] = JsonSerializer.Serialize(Labels);
        if (Epoch is { } e) m["epoch"] = e.ToString(CultureInfo.InvariantCulture);
        if (BestEpoch is { } b) m["best_epoch"] = b.ToString(CultureInfo.InvariantCulture);
        if (MinEvalLoss is { } l) m["min_eval_loss"] = l.ToString("R", CultureInfo.InvariantCulture);
        if (MaxEvalAccuracy is { } a) m["max_eval_acc"] = a.ToString("R", CultureInfo.InvariantCulture);
        return m;
    }
}
