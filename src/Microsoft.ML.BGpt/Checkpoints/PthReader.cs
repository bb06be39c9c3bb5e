using System.IO.Compression;
using System.Text;

namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>
/// Reads files written by PyTorch's <c>torch.save</c> (zip format, torch 1.6 and later) without libtorch and
/// without executing anything: the result is a plain object tree (see <see cref="PickleDict"/>) whose tensors
/// are <see cref="TensorData"/>.
/// </summary>
public static class PthReader
{
    /// <summary>Reads the object saved in <paramref name="path"/>.</summary>
    /// <exception cref="BGptCheckpointException">The file is not a readable torch zip checkpoint.</exception>
    public static object? Read(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return Read(stream, path);
        }
        catch (IOException e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BGptCheckpointException(path, "file not found.", inner: e);
        }
    }

    /// <summary>Reads a torch zip checkpoint from a stream; <paramref name="name"/> is used in error messages.</summary>
    public static object? Read(Stream stream, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek)
        {
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            copy.Position = 0;
            stream = copy;
        }
        if (StartsWithLegacyMagic(stream))
            throw new BGptCheckpointException(name, "legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a newer torch.");
        ZipArchive zip;
        try { zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true); }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException)
        {
            throw new BGptCheckpointException(name, $"not a torch checkpoint (not a readable zip archive: {e.Message}).", inner: e);
        }
        using (zip)
        {
            var pkl = FindDataPickle(zip) ?? throw new BGptCheckpointException(name, "not a torch checkpoint: the zip has no '<folder>/data.pkl' record.");
            string prefix = pkl.FullName[..^"data.pkl".Length];
            bool bigEndian = ReadText(zip, prefix + "byteorder", name)?.Trim() == "big";
            var storages = new Dictionary<string, TorchStorage>();
            object PersistentLoad(object? pid) => LoadStorage(zip, prefix, pid, storages, bigEndian, name);
            return new SafeUnpickler(ReadAll(pkl, name), PersistentLoad, name).Load();
        }
    }

    private static ZipArchiveEntry? FindDataPickle(ZipArchive zip)
    {
        // torch names the top folder after the file (or "archive"); it is whatever folder holds data.pkl.
        ZipArchiveEntry? found = null;
        foreach (var e in zip.Entries)
        {
            var parts = e.FullName.Split('/');
            if (parts is [_, "data.pkl"] || parts is ["data.pkl"]) { found = e; break; }
        }
        return found;
    }

    private static TorchStorage LoadStorage(ZipArchive zip, string prefix, object? pid,
        Dictionary<string, TorchStorage> cache, bool bigEndian, string? name)
    {
        // torch's persistent id: ('storage', storage_type, key, location, numel)
        if (pid is not object?[] { Length: >= 5 } t || t[0] as string != "storage" || t[2] is not string key || t[4] is not long numel)
            throw new BGptCheckpointException(name, "unsupported persistent id in the pickle (expected ('storage', type, key, location, numel)).");
        if (t[1] is not PickleGlobal { Value: TorchStorageType type })
            throw new BGptCheckpointException(name, $"unsupported storage type in persistent id for record 'data/{key}'.");
        if (cache.TryGetValue(key, out var cached)) return cached;

        var entry = zip.GetEntry(prefix + "data/" + key)
            ?? throw new BGptCheckpointException(name, $"storage record '{prefix}data/{key}' is missing.");
        long need = numel * type.DType.ElementSize();
        if (entry.Length < need)
            throw new BGptCheckpointException(name, $"storage record '{prefix}data/{key}' is too short: {entry.Length} bytes for {numel} {type.DType} elements ({need} bytes).");
        var bytes = ReadAll(entry, name);
        if (bytes.LongLength < need)
            throw new BGptCheckpointException(name, $"storage record '{prefix}data/{key}' is too short: {bytes.LongLength} bytes, need {need}.");
        if (bytes.LongLength > need) Array.Resize(ref bytes, (int)need);
        if (bigEndian) SwapBytes(bytes, type.DType.ElementSize());
        return cache[key] = new TorchStorage(key, type.DType, bytes);
    }

    private static byte[] ReadAll(ZipArchiveEntry entry, string? name)
    {
        try
        {
            if (entry.Length > Array.MaxLength) throw new InvalidDataException("record larger than 2 GB");
            using var s = entry.Open();
            var buffer = new byte[entry.Length];
            s.ReadExactly(buffer);
            return buffer;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or EndOfStreamException)
        {
            throw new BGptCheckpointException(name, $"record '{entry.FullName}' cannot be read (truncated or corrupted: {e.Message}).", inner: e);
        }
    }

    private static string? ReadText(ZipArchive zip, string entryName, string? name) =>
        zip.GetEntry(entryName) is { } e ? Encoding.ASCII.GetString(ReadAll(e, name)) : null;

    private static void SwapBytes(byte[] data, int size)
    {
        if (size == 1) return;
        for (int i = 0; i + size <= data.Length; i += size) Array.Reverse(data, i, size);
    }

    // The legacy format starts with a pickled magic number: PROTO 2, LONG1 0x1950a86a20f9469cfc6c.
    private static bool StartsWithLegacyMagic(Stream s)
    {
        long start = s.Position;
        Span<byte> head = stackalloc byte[3];
        int n = s.ReadAtLeast(head, 3, throwOnEndOfStream: false);
        s.Position = start;
        return n == 3 && head[0] == 0x80 && head[1] == 0x02 && head[2] == 0x8a;
    }
}
