namespace Microsoft.ML.BGpt.Training;

/// <summary>
/// Encodes examples afresh every epoch (so random crops differ between epochs) and groups examples of similar
/// length into batches: shuffled examples are cut into buckets of <see cref="BucketBatches"/> batches, each bucket is
/// sorted by length and cut into batches, and the batch order is shuffled. Little compute goes to padding while
/// batches stay random. Encoding is lazy, per batch, so memory does not grow with the data set.
/// </summary>
internal sealed class ExampleBatcher
{
    /// <summary>Batches per length bucket: larger means less padding but less randomness in batch composition.</summary>
    internal const int BucketBatches = 16;

    private readonly IReadOnlyList<ByteExample> _examples;
    private readonly BGptConfig _config;
    private readonly int _batchSize;
    private readonly int[] _patches;

    public ExampleBatcher(IReadOnlyList<ByteExample> examples, BGptConfig config, int batchSize)
    {
        _examples = examples;
        _config = config;
        _batchSize = batchSize;
        // Every truncation strategy keeps min(full length, budget) patches, so lengths are known before encoding.
        _patches = examples.Select(e => (int)Math.Min(ByteEncoder.FullPatchCount(e.Content.Length, config.PatchSize), config.PatchLength)).ToArray();
    }

    public int Count => _examples.Count;

    public int BatchCount => (Count + _batchSize - 1) / _batchSize;

    /// <summary>
    /// One epoch of batches. With a random, order is shuffled, random crops use it, and each file is first resampled by
    /// a factor up to <paramref name="resampling"/> from 1 (<see cref="Resample"/>; 0 for none) and then shifted by up to
    /// byteShift bytes (<see cref="Shift"/>; 0 for none); without, batches go shortest first.
    /// </summary>
    public IEnumerable<TrainingBatch> Batches(TruncationStrategy strategy, Random? random, int byteShift = 0, double resampling = 0)
    {
        foreach (var indices in Plan(random))
        {
            var rows = indices.Select(i =>
            {
                var content = _examples[i].Content.Span;
                if (random is not null && resampling > 0) content = Resample(content, Math.Pow(1 + resampling, 2 * random.NextDouble() - 1));
                if (random is not null && byteShift > 0) content = Shift(content, byteShift, random);
                return ByteEncoder.Encode(content, _examples[i].Extension.Span, _config, strategy, random);
            }).ToList();
            yield return new TrainingBatch(rows, indices.Select(i => _examples[i].Label).ToList(), _config.PatchSize);
        }
    }

    /// <summary>Example indices of each batch, in the order they are to be used.</summary>
    internal List<int[]> Plan(Random? random)
    {
        var order = Enumerable.Range(0, Count).ToArray();
        if (random is null)
            return Chunk(order.OrderBy(i => _patches[i]).ToArray()).ToList();

        random.Shuffle(order);
        var batches = new List<int[]>();
        int bucket = _batchSize * BucketBatches;
        for (int start = 0; start < order.Length; start += bucket)
        {
            var sorted = order.Skip(start).Take(bucket).OrderBy(i => _patches[i]).ToArray(); // stable: ties keep the shuffled order
            batches.AddRange(Chunk(sorted));
        }
        var shuffled = batches.ToArray();
        random.Shuffle(shuffled);
        return shuffled.ToList();
    }

    private IEnumerable<int[]> Chunk(int[] indices) => indices.Chunk(_batchSize);

    /// <summary>
    /// The bytes read as samples of a signal and resampled at <paramref name="rate"/> input samples per output sample:
    /// output j is the input at position j × rate, linearly interpolated between its two neighbours and rounded, so the
    /// result has about length / rate bytes (rate above 1 plays faster and higher).
    /// </summary>
    internal static ReadOnlySpan<byte> Resample(ReadOnlySpan<byte> content, double rate)
    {
        if (content.Length < 2 || rate == 1) return content;
        int length = Math.Max(1, (int)Math.Floor((content.Length - 1) / rate) + 1);
        var output = new byte[length];
        for (int j = 0; j < length; j++)
        {
            double x = j * rate;
            int i = Math.Min((int)x, content.Length - 1);
            double f = x - i;
            output[j] = f == 0 || i + 1 >= content.Length ? content[i] : (byte)Math.Round(content[i] + f * (content[i + 1] - content[i]));
        }
        return output;
    }

    /// <summary>
    /// Inserts (copies of the byte there) or deletes up to <paramref name="maxShift"/> bytes at one random position, so
    /// what follows moves against the patch grid. Lengths change by a few bytes, which the encoder's budget absorbs.
    /// </summary>
    internal static ReadOnlySpan<byte> Shift(ReadOnlySpan<byte> content, int maxShift, Random random)
    {
        int shift = random.Next(-maxShift, maxShift + 1);
        if (shift == 0 || content.Length == 0) return content;
        int cut = random.Next(content.Length);
        if (shift < 0)
        {
            int removed = Math.Min(-shift, content.Length - cut);
            var shorter = new byte[content.Length - removed];
            content[..cut].CopyTo(shorter);
            content[(cut + removed)..].CopyTo(shorter.AsSpan(cut));
            return shorter;
        }
        var longer = new byte[content.Length + shift];
        content[..cut].CopyTo(longer);
        longer.AsSpan(cut, shift).Fill(content[cut]);
        content[cut..].CopyTo(longer.AsSpan(cut + shift));
        return longer;
    }
}
