namespace Microsoft.ML.BGpt;

/// <summary>
/// Reads what bGPT can use of a file without reading it whole: small files entirely, large files as their first
/// and last <see cref="WindowBytes"/> bytes with a middle cut whose length is a multiple of <see cref="Alignment"/>.
/// </summary>
/// <remarks>
/// Because the cut is a multiple of the patch size, every kept byte keeps its position within its patch and the
/// final padding is unchanged, so Head, Tail and HeadTail truncation of the shortened content give exactly the
/// tokens of the whole file, for any model with PatchSize dividing 4096 and PatchSize x PatchLength up to 64 KiB.
/// (A random training crop that straddles the cut sees the two ends joined.) With other patch sizes (a record stride
/// such as 28) a file over 128 KiB keeps the same bytes, but the tail may sit at another offset within its patches than
/// in the whole file; training and serving through this reader see the same tokens.
/// </remarks>
public static class FileWindowReader
{
    /// <summary>Bytes kept at each end of a large file (64 KiB).</summary>
    public const int WindowBytes = 64 * 1024;

    /// <summary>The cut is a multiple of this many bytes (4096), hence of any patch size dividing it.</summary>
    public const int Alignment = 4096;

    /// <summary>Whether models of this shape read shortened files exactly.</summary>
    public static bool Supports(BGptConfig config) => Alignment % config.PatchSize == 0 && config.MaxTokens <= WindowBytes;

    /// <summary>The file's bytes, or its two ends for a file over twice <see cref="WindowBytes"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist or cannot be read; the message names it.</exception>
    public static byte[] Read(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
            long length = stream.Length;
            if (length <= 2L * WindowBytes) return ReadExactly(stream, 0, (int)length, path);
            long extra = (length - 2L * WindowBytes) % Alignment;
            int tail = WindowBytes + (int)extra;
            var result = new byte[WindowBytes + tail];
            ReadExactly(stream, 0, WindowBytes, path).CopyTo(result, 0);
            ReadExactly(stream, length - tail, tail, path).CopyTo(result, WindowBytes);
            return result;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && e is not EndOfStreamException)
        {
            throw new FileNotFoundException($"Cannot read file '{path}': {e.Message}", path, e);
        }
    }

    /// <summary>
    /// The first <paramref name="maxBytes"/> bytes of the file (all of it when shorter): for
    /// <see cref="LongFileStrategy.WindowMean"/>, which uses the whole content rather than its two ends.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist or cannot be read; the message names it.</exception>
    public static byte[] ReadHead(string path, int maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            return ReadExactly(stream, 0, (int)Math.Min(stream.Length, maxBytes), path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && e is not EndOfStreamException)
        {
            throw new FileNotFoundException($"Cannot read file '{path}': {e.Message}", path, e);
        }
    }

    private static byte[] ReadExactly(Stream stream, long offset, int count, string path)
    {
        var buffer = new byte[count];
        stream.Seek(offset, SeekOrigin.Begin);
        int read = stream.ReadAtLeast(buffer, count, throwOnEndOfStream: false);
        if (read < count) throw new EndOfStreamException($"File '{path}' ended early (it changed while being read).");
        return buffer;
    }
}
