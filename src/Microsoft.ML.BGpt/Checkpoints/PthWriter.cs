namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>
/// Writes an object tree (dicts, <see cref="PickleDict"/>, lists, tuples, ints, floats, strings, bools, None,
/// bytes and <see cref="TensorData"/>) in torch.save's zip format, readable by <c>torch.load</c> (torch 1.6+).
/// </summary>
public static class PthWriter
{
    /// <summary>
    /// Writes <paramref name="root"/> to <paramref name="path"/> through a temporary file in the same folder,
    /// so an existing file is only replaced by a complete one.
    /// </summary>
    public static void Write(string path, object? root) =>
        AtomicFile.Write(path, stream => Write(stream, root, ArchiveName(path)));

    /// <summary>Writes <paramref name="root"/> to a stream; <paramref name="archiveName"/> is the zip's top folder.</summary>
    public static void Write(Stream stream, object? root, string archiveName = "archive")
    {
        ArgumentNullException.ThrowIfNull(stream);
        var pickler = new TorchPickleWriter();
        var pickle = pickler.Pickle(root);
        var zip = new ZipStoreWriter(stream);
        // Same record order as torch 1.13: data.pkl, storages sorted by key name, version.
        zip.Add($"{archiveName}/data.pkl", pickle);
        foreach (var (key, tensor) in pickler.Storages.OrderBy(s => s.Key, StringComparer.Ordinal))
            zip.Add($"{archiveName}/data/{key}", tensor.Data);
        zip.Add($"{archiveName}/version", "3\n"u8);
        zip.Finish();
    }

    // torch names the folder after the file ("lm.pth" -> "lm"); keep it a simple ASCII name.
    private static string ArchiveName(string path)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        var clean = new string(name.Where(c => c < 128 && c != '/' && c != '\\').ToArray());
        return clean.Length == 0 ? "archive" : clean;
    }
}
