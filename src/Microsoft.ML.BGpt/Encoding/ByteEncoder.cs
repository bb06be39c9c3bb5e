using System.Text;

namespace Microsoft.ML.BGpt;

/// <summary>
/// Turns a file into bGPT's token sequence, exactly as the original <c>read_bytes</c>: an extension patch
/// (the UTF-8 bytes of the text after the file name's last dot, cut to the patch size, padded with 256),
/// the file's bytes padded with 256 to a whole patch, and a final all-256 patch; then truncation to
/// <see cref="BGptConfig.PatchLength"/> patches.
/// </summary>
/// <remarks>
/// One deliberate deviation: for a name without a dot the original puts the whole path string it was given
/// into the extension patch, so the result depends on the working directory; we use an empty extension
/// (an all-256 extension patch). Only the file name is looked at, so dots in folder names do not matter.
/// </remarks>
public static class ByteEncoder
{
    /// <summary>The extension bGPT sees for a path: text after the last dot of the file name, or empty.</summary>
    public static string ExtensionOf(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var name = Path.GetFileName(path);
        int dot = name.LastIndexOf('.');
        return dot < 0 ? string.Empty : name[(dot + 1)..];
    }

    /// <summary>UTF-8 bytes of an extension, cut to <paramref name="patchSize"/> bytes (even inside a character, as the original).</summary>
    public static byte[] ExtensionBytes(string extension, int patchSize)
    {
        var bytes = Encoding.UTF8.GetBytes(extension ?? string.Empty);
        return bytes.Length <= patchSize ? bytes : bytes[..patchSize];
    }

    /// <summary>Encodes in-memory content.</summary>
    /// <param name="content">The file's bytes.</param>
    /// <param name="extension">The extension bytes (see <see cref="ExtensionBytes"/>); longer input is cut to the patch size.</param>
    /// <param name="config">Patch size and patch budget.</param>
    /// <param name="strategy">How to cut long inputs.</param>
    /// <param name="random">Source of randomness for <see cref="TruncationStrategy.RandomCrop"/>; required for it.</param>
    /// <returns>Tokens in 0..256, a whole number of patches.</returns>
    public static int[] Encode(ReadOnlySpan<byte> content, ReadOnlySpan<byte> extension, BGptConfig config,
        TruncationStrategy strategy = TruncationStrategy.Head, Random? random = null)
    {
        var plan = EncodingPlan.Create(content.Length, config, strategy, random);
        var tokens = plan.NewTokenBuffer(extension, config.PatchSize);
        foreach (var (start, length, destination) in plan.ContentRanges)
            for (int i = 0; i < length; i++) tokens[destination + i] = content[(int)(start + i)];
        return tokens;
    }

    /// <summary>Encodes a file, reading only the byte ranges that the truncation keeps.</summary>
    public static int[] EncodeFile(string path, BGptConfig config, TruncationStrategy strategy = TruncationStrategy.Head,
        Random? random = null)
    {
        using var stream = OpenRead(path);
        return EncodeStream(stream, ExtensionBytes(ExtensionOf(path), config.PatchSize), config, strategy, random, path);
    }

    /// <summary>Encodes a seekable stream of known length, reading only the byte ranges that the truncation keeps.</summary>
    public static int[] EncodeStream(Stream stream, ReadOnlySpan<byte> extension, BGptConfig config,
        TruncationStrategy strategy = TruncationStrategy.Head, Random? random = null, string? name = null)
    {
        var plan = EncodingPlan.Create(stream.Length, config, strategy, random);
        var tokens = plan.NewTokenBuffer(extension, config.PatchSize);
        var buffer = new byte[Math.Min(plan.ContentRanges.Sum(r => r.Length), int.MaxValue)];
        foreach (var (start, length, destination) in plan.ContentRanges)
        {
            stream.Seek(start, SeekOrigin.Begin);
            var span = buffer.AsSpan(0, (int)length);
            int read = stream.ReadAtLeast(span, span.Length, throwOnEndOfStream: false);
            if (read < span.Length)
                throw new IOException($"File '{name ?? "<stream>"}' ended early: expected {start + length} bytes, read {start + read}. Did it change while being read?");
            for (int i = 0; i < span.Length; i++) tokens[destination + i] = span[i];
        }
        return tokens;
    }

    /// <summary>Number of patches the encoding of <paramref name="contentLength"/> bytes has before truncation.</summary>
    public static long FullPatchCount(long contentLength, int patchSize) => 2 + (contentLength + patchSize - 1) / patchSize;

    private static FileStream OpenRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.RandomAccess);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FileNotFoundException($"Cannot read file '{path}': {e.Message}", path, e);
        }
    }
}
