namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>AdamW moments of one parameter.</summary>
/// <param name="Step">Number of steps taken (torch 1.12+ stores it as a float tensor).</param>
/// <param name="ExpAvg">First moment, shaped like the parameter.</param>
/// <param name="ExpAvgSq">Second moment, shaped like the parameter.</param>
/// <param name="MaxExpAvgSq">AMSGrad's running maximum, when amsgrad was on.</param>
public sealed record AdamWParameterState(double Step, TensorData ExpAvg, TensorData ExpAvgSq, TensorData? MaxExpAvgSq = null);

/// <summary>
/// The state of torch.optim.AdamW keyed by parameter name. torch keys it by the parameter's index in
/// model.parameters(); we resolve indices through the model's named_parameters() order.
/// Parameters that never received a gradient have no entry (as in torch).
/// </summary>
public sealed class AdamWState
{
    /// <summary>Creates the state from per-parameter moments and torch's param_groups (hyperparameters).</summary>
    public AdamWState(IReadOnlyDictionary<string, AdamWParameterState> parameters, IReadOnlyList<PickleDict>? paramGroups = null)
    {
        Parameters = parameters;
        ParamGroups = paramGroups ?? [DefaultGroup()];
    }

    /// <summary>Moments by parameter name, in parameter order.</summary>
    public IReadOnlyDictionary<string, AdamWParameterState> Parameters { get; }

    /// <summary>torch's param_groups as read (lr, betas, eps, weight_decay, amsgrad, ..., params = indices).</summary>
    public IReadOnlyList<PickleDict> ParamGroups { get; }

    /// <summary>The first group's learning rate, when present.</summary>
    public double? LearningRate => ParamGroups.Count > 0 && ParamGroups[0].Get("lr") is double lr ? lr : null;

    /// <summary>Reads torch's optimizer state_dict {'state': {index: {...}}, 'param_groups': [...]}.</summary>
    internal static AdamWState FromTorch(object? tree, IReadOnlyList<StateDictEntry> parameters, string? file)
    {
        if (tree is not PickleDict { } dict || dict.Get("state") is not PickleDict state || dict.Get("param_groups") is not List<object?> groups)
            throw new BGptCheckpointException(file, "'optimizer' is not a torch optimizer state_dict ({'state', 'param_groups'}).");
        var groupDicts = groups.Select(g => g as PickleDict ?? throw new BGptCheckpointException(file, "optimizer param_groups entry is not a dict.")).ToList();
        int count = groupDicts.Sum(g => (g.Get("params") as List<object?>)?.Count ?? 0);
        if (count != parameters.Count)
            throw new BGptCheckpointException(file, $"optimizer covers {count} parameters but the model has {parameters.Count}.");
        var result = new OrderedDictionary<string, AdamWParameterState>();
        foreach (var (k, v) in state.OrderBy(kv => kv.Key is long l ? l : long.MaxValue))
        {
            if (k is not long index || index < 0 || index >= parameters.Count)
                throw new BGptCheckpointException(file, $"optimizer state key {k} is not a parameter index below {parameters.Count}.");
            var p = parameters[(int)index];
            if (v is not PickleDict s) throw new BGptCheckpointException(file, "optimizer state entry is not a dict.", p.Key);
            result[p.Key] = new AdamWParameterState(
                s.Get("step") switch
                {
                    TensorData { ElementCount: 1 } t => t.ToFloatArray()[0],
                    TensorData t => throw new BGptCheckpointException(file, $"optimizer 'step' has shape {t.ShapeText}, expected one value.", p.Key),
                    long l => l,
                    double d => d,
                    _ => throw new BGptCheckpointException(file, "optimizer state has no 'step'.", p.Key),
                },
                Moment(s, "exp_avg", p, file)!,
                Moment(s, "exp_avg_sq", p, file)!,
                s.ContainsKey("max_exp_avg_sq") ? Moment(s, "max_exp_avg_sq", p, file) : null);
        }
        return new AdamWState(result, groupDicts);
    }

    /// <summary>torch's optimizer state_dict for <paramref name="parameters"/> (named_parameters order).</summary>
    internal PickleDict ToTorch(IReadOnlyList<StateDictEntry> parameters)
    {
        var state = new PickleDict();
        for (int i = 0; i < parameters.Count; i++)
        {
            if (!Parameters.TryGetValue(parameters[i].Key, out var p)) continue;
            var entry = new PickleDict
            {
                ["step"] = TensorData.FromFloats([(float)p.Step], []),
                ["exp_avg"] = p.ExpAvg,
                ["exp_avg_sq"] = p.ExpAvgSq,
            };
            if (p.MaxExpAvgSq is not null) entry["max_exp_avg_sq"] = p.MaxExpAvgSq;
            state[(long)i] = entry;
        }
        // Re-number 'params' so the groups cover exactly this model's parameters, in order.
        var groups = new List<object?>();
        long next = 0;
        for (int g = 0; g < ParamGroups.Count; g++)
        {
            var copy = new PickleDict();
            foreach (var (k, v) in ParamGroups[g]) copy[k] = v;
            long n = g == ParamGroups.Count - 1 ? parameters.Count - next : Math.Min((copy.Get("params") as List<object?>)?.Count ?? 0, parameters.Count - next);
            copy["params"] = Enumerable.Range(0, (int)n).Select(i => (object?)(next + i)).ToList();
            next += n;
            groups.Add(copy);
        }
        return new PickleDict { ["state"] = state, ["param_groups"] = groups };
    }

    private static TensorData? Moment(PickleDict s, string name, StateDictEntry p, string? file)
    {
        if (s.Get(name) is not TensorData t) throw new BGptCheckpointException(file, $"optimizer state has no tensor '{name}'.", p.Key);
        if (!t.Shape.SequenceEqual(p.Shape))
            throw new BGptCheckpointException(file, $"optimizer '{name}' has shape {t.ShapeText}, expected {TensorData.FormatShape(p.Shape)}.", p.Key);
        return t;
    }

    // torch 1.13's AdamW defaults, used when no param_groups were read.
    private static PickleDict DefaultGroup() => new()
    {
        ["lr"] = 1e-3, ["betas"] = new object?[] { 0.9, 0.999 }, ["eps"] = 1e-8, ["weight_decay"] = 1e-2,
        ["amsgrad"] = false, ["foreach"] = null, ["maximize"] = false, ["capturable"] = false,
        ["params"] = new List<object?>(),
    };
}
