namespace Microsoft.ML.BGpt;

/// <summary>
/// Which positions of the full encoded sequence (extension patch, content, 256-padding, end patch) survive
/// truncation, and where the content bytes among them come from. Lets a file be encoded without reading it whole.
/// </summary>
internal sealed class EncodingPlan
{
    private readonly int _patchSize;
    private readonly long _contentLength;

    /// <summary>Kept windows of the full sequence, in token positions: (start, length).</summary>
    public IReadOnlyList<(long Start, long Length)> Windows { get; }

    /// <summary>Content byte ranges to copy: (offset in the file, length, destination token index).</summary>
    public IReadOnlyList<(long Start, long Length, int Destination)> ContentRanges { get; }

    public int TokenCount { get; }

    private EncodingPlan(long contentLength, int patchSize, List<(long, long)> windows)
    {
        _patchSize = patchSize;
        _contentLength = contentLength;
        Windows = windows;
        var ranges = new List<(long, long, int)>();
        int destination = 0;
        foreach (var (start, length) in windows)
        {
            // Content occupies full-sequence positions [patchSize, patchSize + contentLength).
            long from = Math.Max(start, patchSize), to = Math.Min(start + length, patchSize + contentLength);
            if (to > from) ranges.Add((from - patchSize, to - from, destination + (int)(from - start)));
            destination += (int)length;
        }
        ContentRanges = ranges;
        TokenCount = destination;
    }

    public static EncodingPlan Create(long contentLength, BGptConfig config, TruncationStrategy strategy, Random? random)
    {
        int p = config.PatchSize, budget = config.PatchLength;
        long patches = ByteEncoder.FullPatchCount(contentLength, p);
        var windows = new List<(long, long)>();
        if (patches <= budget)
        {
            windows.Add((0, patches * p));
            return new EncodingPlan(contentLength, p, windows);
        }

        if (strategy == TruncationStrategy.RandomCrop)
        {
            if (random is null) throw new ArgumentNullException(nameof(random), "TruncationStrategy.RandomCrop needs a seeded Random.");
            // train-cls.py: random.choice(head, body, tail); body only when len > (PATCH_LENGTH+1)*PATCH_SIZE,
            // start = randint(1, patches - PATCH_LENGTH) inclusive; otherwise tail.
            int choice = random.Next(3);
            if (choice == 0) strategy = TruncationStrategy.Head;
            else if (choice == 1 && patches > budget + 1)
            {
                long start = 1 + random.NextInt64(patches - budget);
                windows.Add((start * p, (long)budget * p));
                return new EncodingPlan(contentLength, p, windows);
            }
            else strategy = TruncationStrategy.Tail;
        }

        switch (strategy)
        {
            case TruncationStrategy.Head:
                windows.Add((0, (long)budget * p));
                break;
            case TruncationStrategy.Tail:
                windows.Add(((patches - budget) * p, (long)budget * p));
                break;
            case TruncationStrategy.HeadTail:
                long head = (budget + 1) / 2, tail = budget - head;
                windows.Add((0, head * p));
                windows.Add(((patches - tail) * p, tail * p));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(strategy), strategy, "Unknown truncation strategy.");
        }
        return new EncodingPlan(contentLength, p, windows);
    }

    /// <summary>A token buffer with every kept non-content position filled: extension bytes or 256.</summary>
    public int[] NewTokenBuffer(ReadOnlySpan<byte> extension, int patchSize)
    {
        var tokens = new int[TokenCount];
        Array.Fill(tokens, BGptConfig.SpecialToken);
        int ext = Math.Min(extension.Length, patchSize), destination = 0;
        foreach (var (start, length) in Windows)
        {
            for (long pos = start; pos < Math.Min(start + length, ext); pos++) tokens[destination + (int)(pos - start)] = extension[(int)pos];
            destination += (int)length;
        }
        return tokens;
    }
}
