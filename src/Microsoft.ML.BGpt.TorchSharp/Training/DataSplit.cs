namespace Microsoft.ML.BGpt.Training;

/// <summary>Holding out validation data and weighting classes.</summary>
internal static class DataSplit
{
    /// <summary>
    /// The given validation list, or a seeded share of the training data taken per label (so every class is seen in
    /// validation in proportion). At least one example stays in training; a share that rounds to nothing gives no validation.
    /// </summary>
    public static (IReadOnlyList<ByteExample> Train, IReadOnlyList<ByteExample> Validation) Split(
        IReadOnlyList<ByteExample> train, IReadOnlyList<ByteExample>? validation, double fraction, int seed)
    {
        if (validation is not null || fraction <= 0) return (train, validation ?? []);
        var random = new Random(Seeds.Derive(seed, Seeds.Split));
        var held = new HashSet<int>();
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

    /// <summary>n / (classes x count) per class (scikit-learn's "balanced"); classes absent from the data get 0.</summary>
    public static float[] BalancedWeights(IReadOnlyList<ByteExample> train, int labelCount)
    {
        var counts = new long[labelCount];
        foreach (var e in train) counts[e.Label]++;
        return counts.Select(c => c == 0 ? 0f : (float)((double)train.Count / (labelCount * c))).ToArray();
    }
}
