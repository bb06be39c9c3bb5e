namespace Microsoft.ML.BGpt;

/// <summary>
/// The bucket of each pair of consecutive tokens for <see cref="BGptConfig.BigramBuckets"/>: the same table in the
/// TorchSharp model and in the ONNX graph, so both read the same embedding rows.
/// </summary>
/// <remarks>
/// A token is a byte value or the special 256; the token before a sequence's first one is <see cref="Start"/>. The pair
/// (previous, current) has index previous · 257 + current, and its bucket is a 32-bit integer mix of that index
/// (lowbias32) modulo the bucket count: collisions fall evenly whatever the count, unlike a plain modulo of the index.
/// Changing this function changes what every trained model with bigram buckets computes.
/// </remarks>
internal static class ByteBigramHash
{
    /// <summary>The "previous token" of a sequence's first token.</summary>
    public const int Start = BGptConfig.SpecialToken + 1;

    /// <summary>Number of (previous, current) pairs: previous in 0..257, current in 0..256.</summary>
    public const int Pairs = (Start + 1) * (BGptConfig.SpecialToken + 1);

    /// <summary>The bucket of the pair (<paramref name="previous"/>, <paramref name="current"/>) among <paramref name="buckets"/>.</summary>
    public static int Bucket(int previous, int current, int buckets)
    {
        uint x = (uint)(previous * (BGptConfig.SpecialToken + 1) + current);
        x ^= x >> 16; x *= 0x7feb352dU;
        x ^= x >> 15; x *= 0x846ca68bU;
        x ^= x >> 16;
        return (int)(x % (uint)buckets);
    }

    /// <summary>The bucket of every pair, indexed by previous · 257 + current: [<see cref="Pairs"/>].</summary>
    public static long[] Table(int buckets)
    {
        var table = new long[Pairs];
        for (int previous = 0; previous <= Start; previous++)
            for (int current = 0; current <= BGptConfig.SpecialToken; current++)
                table[previous * (BGptConfig.SpecialToken + 1) + current] = Bucket(previous, current, buckets);
        return table;
    }
}
