namespace Microsoft.ML.BGpt.Benchmarks;

/// <summary>The repository's benchmark files (benchmarks/data) and the fixed-size inputs cut from them.</summary>
internal sealed class SampleData
{
    private SampleData(string root, IReadOnlyList<string> files, string input1K, string input8K)
    {
        Root = root;
        Files = files;
        Input1K = input1K;
        Input8K = input8K;
    }

    public string Root { get; }

    /// <summary>The mixed real files, sorted by name.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>A 1024-byte file (the start of a real file, with its extension).</summary>
    public string Input1K { get; }

    /// <summary>An 8192-byte file (the start of a real file, with its extension).</summary>
    public string Input8K { get; }

    /// <summary>Every <paramref name="step"/>-th file: a class-balanced subset (files come in pairs per class).</summary>
    public IReadOnlyList<string> Subset(int step) => Files.Where((_, i) => i % step == 0).ToList();

    /// <summary>Up to <paramref name="count"/> distinct files of at least <paramref name="bytes"/> bytes, cut to exactly that size.</summary>
    public IReadOnlyList<(byte[] Content, string Extension)> Slices(int bytes, int count)
    {
        var big = Files.Where(f => new FileInfo(f).Length >= bytes).ToList();
        if (big.Count == 0) throw new InvalidOperationException($"No benchmark file has {bytes} bytes.");
        return Enumerable.Range(0, count).Select(i => big[i % big.Count])
            .Select(f => (File.ReadAllBytes(f)[..bytes], ByteEncoder.ExtensionOf(f))).ToList();
    }

    public static SampleData Load(string scratch)
    {
        var root = FindRepositoryRoot();
        var dir = Path.Combine(root, "benchmarks", "data");
        var files = Directory.GetFiles(dir).Where(f => Path.GetFileName(f) is not ("SOURCE.md" or "files.tsv"))
            .OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new InvalidOperationException($"No benchmark files in {dir}.");
        // The first file of at least 8 KiB, in name order, provides both fixed-size inputs.
        var source = files.First(f => new FileInfo(f).Length >= 8192);
        var content = File.ReadAllBytes(source);
        var ext = ByteEncoder.ExtensionOf(source);
        Directory.CreateDirectory(scratch);
        string Write(int size)
        {
            var path = Path.Combine(scratch, $"input-{size / 1024}k" + (ext.Length > 0 ? "." + ext : ""));
            File.WriteAllBytes(path, content[..size]);
            return path;
        }
        return new SampleData(root, files, Write(1024), Write(8192));
    }

    public static string FindRepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.BGpt.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Run the benchmarks from inside the repository (Microsoft.ML.BGpt.sln not found).");
    }
}
