namespace Microsoft.ML.BGpt.Training;

/// <summary>
/// Derives independent, process-stable seeds from the user's seed (HashCode is randomised per process, so it
/// cannot be used). Every epoch gets its own seed so a resumed run sees the same data order, crops and dropout
/// as an uninterrupted one.
/// </summary>
internal static class Seeds
{
    public const int Initialization = 0x1001, Split = 0x2002, Epoch = 0x3003;

    public static int Derive(int seed, int purpose, int index = 0)
    {
        // splitmix64 finaliser over the three inputs.
        ulong z = unchecked((ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (ulong)(uint)purpose * 0xBF58476D1CE4E5B9UL + (ulong)(uint)index * 0x94D049BB133111EBUL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
    }
}
