namespace Microsoft.ML.BGpt.Training;

/// <summary>Holding out validation data and weighting classes.</summary>
internal static class DataSplit
{
    /// <summary>
    /// The given validation list, or a seeded share of the training data taken per label (so every class is seen in
    /// validation in proportion). With <see cref="ByteExample.Group"/>s the share is made of whole groups (see
    /// <see cref="HoldOutGroups"/>). At least one example stays in training; a share that rounds to nothing gives no validation.
    /// </summary>
    public static (IReadOnlyList<ByteExample> Train, IReadOnlyList<ByteExample> Validation) Split(
        IReadOnlyList<ByteExample> train, IReadOnlyList<ByteExample>? validation, double fraction, int seed)
    {
        if (validation is not null || fraction <= 0) return (train, validation ?? []);
        var random = new Random(Seeds.Derive(seed, Seeds.Split));
        var held = train.Any(e => e.Group is not null) ? HoldOutGroups(train, fraction, random) : new HashSet<int>();
        if (held.Count == 0)
            foreach (var group in Enumerable.Range(0, train.Count).GroupBy(i => train[i].Label).OrderBy(g => g.Key))
            {
                var indices = group.ToArray();
                random.Shuffle(indices);
                held.UnionWith(indices.Take((int)Math.Round(indices.Length * fraction)));
            }
        if (held.Count == train.Count) held.Remove(held.Max());
        return (Enumerable.Range(0, train.Count).Where(i => !held.Contains(i)).Select(i => train[i]).ToList(),
                Enumerable.Range(0, train.Count).Where(held.Contains).Select(i => train[i]).ToList());
    }

    /// <summary>
    /// Whole groups for validation, in seeded order: a group is held while one of its labels is short of its share
    /// (round(fraction x count)) and none would pass 1.5 times its share, so the labels stay near their proportions.
    /// Examples without a group are groups of one. Validation then scores sources training never saw, as new data
    /// will be; a random share of files scores sources it did see (the same speaker, package or document) and reads high.
    /// </summary>
    internal static HashSet<int> HoldOutGroups(IReadOnlyList<ByteExample> train, double fraction, Random random)
    {
        var groups = Enumerable.Range(0, train.Count)
            .GroupBy(i => (train[i].Group, Single: train[i].Group is null ? i : -1))
            .OrderBy(g => g.Key.Group, StringComparer.Ordinal).ThenBy(g => g.Key.Single)
            .ToArray();
        random.Shuffle(groups);
        var share = train.GroupBy(e => e.Label).ToDictionary(g => g.Key, g => Math.Round(g.Count() * fraction));
        var held = new Dictionary<int, int>();
        var result = new HashSet<int>();
        foreach (var group in groups)
        {
            var counts = group.GroupBy(i => train[i].Label).ToDictionary(g => g.Key, g => g.Count());
            bool needed = counts.Keys.Any(l => held.GetValueOrDefault(l) < share[l]);
            bool fits = counts.All(c => held.GetValueOrDefault(c.Key) + c.Value <= Math.Max(share[c.Key] * 1.5, share[c.Key] + 1));
            if (!needed || !fits) continue;
            foreach (var (label, count) in counts) held[label] = held.GetValueOrDefault(label) + count;
            result.UnionWith(group);
        }
        return result;
    }

    /// <summary>n / (classes x count) per class (scikit-learn's "balanced"); classes absent from the data get 0.</summary>
    public static float[] BalancedWeights(IReadOnlyList<ByteExample> train, int labelCount)
    {
        var counts = new long[labelCount];
        foreach (var e in train) counts[e.Label]++;
        return counts.Select(c => c == 0 ? 0f : (float)((double)train.Count / (labelCount * c))).ToArray();
    }
}
