using System.Text.Json;

namespace Microsoft.ML.BGpt.Checkpoints;

public sealed partial class BGptCheckpoint
{
    /// <summary>
    /// Loads a bGPT checkpoint: the original's training checkpoint (a dict with 'model'), a bare state dict
    /// (both torch.save zip files) or a safetensors file. Nothing in the file is executed.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="numHeads">Attention heads, when not the original's hidden / 64.</param>
    /// <exception cref="BGptCheckpointException">The file is unreadable or not a bGPT checkpoint.</exception>
    public static BGptCheckpoint Load(string path, int? numHeads = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new BGptCheckpointException(path, "file not found.");
        return IsSafetensors(path) ? LoadSafetensors(path, numHeads) : LoadTorch(path, numHeads);
    }

    private static bool IsSafetensors(string path)
    {
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return true;
        // Otherwise sniff: safetensors has an 8-byte length and then the JSON header's '{'.
        using var s = File.OpenRead(path);
        Span<byte> head = stackalloc byte[9];
        return s.ReadAtLeast(head, 9, throwOnEndOfStream: false) == 9 && head[8] == (byte)'{' && !head.StartsWith("PK\u0003\u0004"u8);
    }

    private static BGptCheckpoint LoadTorch(string path, int? numHeads)
    {
        var root = PthReader.Read(path);
        if (root is not PickleDict dict)
            throw new BGptCheckpointException(path, $"not a bGPT checkpoint: the pickle holds a {root?.GetType().Name ?? "None"}, expected a dict.");
        bool training = dict.Get("model") is PickleDict;
        var model = training ? (PickleDict)dict["model"]! : dict;
        var weights = StateDictTensors(model, path);
        var labels = training ? ReadLabels(dict.Get("labels"), path) : null;
        var checkpoint = new BGptCheckpoint(weights, labels, numHeads, path);
        if (!training) return checkpoint;
        return new BGptCheckpoint(checkpoint.Weights, labels, numHeads, path)
        {
            Epoch = ToInt(dict.Get("epoch")),
            BestEpoch = ToInt(dict.Get("best_epoch")),
            MinEvalLoss = ToDouble(dict.Get("min_eval_loss")),
            MaxEvalAccuracy = ToDouble(dict.Get("max_eval_acc")),
            Optimizer = dict.Get("optimizer") is { } opt ? AdamWState.FromTorch(opt, checkpoint.Parameters, path) : null,
            LearningRateScheduler = dict.Get("lr_sched"),
        };
    }

    private static List<KeyValuePair<string, TensorData>> StateDictTensors(PickleDict model, string path)
    {
        var list = new List<KeyValuePair<string, TensorData>>();
        foreach (var (k, v) in model)
        {
            if (k is not string key) throw new BGptCheckpointException(path, $"state dict key {k} is not a string.");
            if (v is not TensorData t) throw new BGptCheckpointException(path, $"state dict value is a {v?.GetType().Name ?? "None"}, not a tensor.", key);
            list.Add(new(key, t));
        }
        // A model saved while wrapped in DataParallel/DistributedDataParallel has every key prefixed with "module.".
        if (list.Count > 0 && list.All(kv => kv.Key.StartsWith("module.", StringComparison.Ordinal)))
            list = list.Select(kv => new KeyValuePair<string, TensorData>(kv.Key["module.".Length..], kv.Value)).ToList();
        return list;
    }

    private static List<string>? ReadLabels(object? labels, string path)
    {
        if (labels is null) return null;
        if (labels is not PickleDict d) throw new BGptCheckpointException(path, "'labels' is not a {label: index} dict.");
        var pairs = d.Select(kv => (Label: kv.Key as string, Index: kv.Value as long?)).ToList();
        if (pairs.Any(p => p.Label is null || p.Index is null))
            throw new BGptCheckpointException(path, "'labels' must map label strings to integer indices.");
        var ordered = pairs.OrderBy(p => p.Index).ToList();
        for (int i = 0; i < ordered.Count; i++)
            if (ordered[i].Index != i) throw new BGptCheckpointException(path, $"'labels' indices must be 0..{ordered.Count - 1} without gaps or repeats.");
        return ordered.Select(p => p.Label!).ToList();
    }

    private static BGptCheckpoint LoadSafetensors(string path, int? numHeads)
    {
        var content = SafetensorsReader.Read(path);
        var m = content.Metadata;
        List<string>? labels = null;
        if (m.TryGetValue(MetaLabels, out var json))
        {
            try { labels = JsonSerializer.Deserialize<List<string>>(json); }
            catch (JsonException e) { throw new BGptCheckpointException(path, $"metadata '{MetaLabels}' is not a JSON list of strings.", inner: e); }
        }
        return new BGptCheckpoint(content.Tensors, labels, numHeads ?? ParseInt(m, MetaHeads), path)
        {
            Epoch = ParseInt(m, "epoch"),
            BestEpoch = ParseInt(m, "best_epoch"),
            MinEvalLoss = ParseDouble(m, "min_eval_loss"),
            MaxEvalAccuracy = ParseDouble(m, "max_eval_acc"),
        };
    }

    private static int? ToInt(object? o) => o is long l && l is >= int.MinValue and <= int.MaxValue ? (int)l : null;
    private static double? ToDouble(object? o) => o switch { double d => d, long l => l, TensorData { ElementCount: 1 } t => t.ToFloatArray()[0], _ => null };
    private static int? ParseInt(IReadOnlyDictionary<string, string> m, string key) => m.TryGetValue(key, out var s) && int.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : null;
    private static double? ParseDouble(IReadOnlyDictionary<string, string> m, string key) =>
        m.TryGetValue(key, out var s) && double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : null;
}
