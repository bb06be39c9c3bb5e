using Microsoft.ML.Data;

namespace Microsoft.ML.BGpt.MLNet;

/// <summary>
/// Wraps an exported bGPT ONNX graph into standard ML.NET estimators: copy the user's columns to the graph's input
/// names, apply the graph with ONNX Runtime, copy the graph's outputs to the user's names, drop the temporaries.
/// </summary>
internal static class OnnxPipeline
{
    /// <summary>Serves an in-memory graph (stored in <see cref="OnnxModelCache"/>, because only a file carries session options).</summary>
    public static IEstimator<ITransformer> Build(TransformsCatalog catalog, byte[] onnx, string bytesColumn, string extensionColumn,
        IReadOnlyList<(string OnnxOutput, string Column)> outputs, int? threads = null) =>
        Build(catalog, OnnxModelCache.Store(onnx), bytesColumn, extensionColumn, outputs, threads);

    /// <summary>
    /// Intra-op threads of the sessions this library creates: the caller's, else every core the process may use.
    /// ONNX Runtime's own default counts physical cores through cpuinfo, which can undercount on virtual machines
    /// (it chose 1 thread on the 2-core VM of docs/benchmarks.md, half the speed).
    /// </summary>
    public static int IntraOpThreads(int? threads) => threads ?? Environment.ProcessorCount;

    /// <summary>Serves a graph file, which ONNX Runtime maps without a managed copy (and ML.NET reads only when saving).</summary>
    public static IEstimator<ITransformer> Build(TransformsCatalog catalog, string onnxFile, string bytesColumn, string extensionColumn,
        IReadOnlyList<(string OnnxOutput, string Column)> outputs, int? threads = null) =>
        Chain(catalog, onnxFile, bytesColumn, extensionColumn, outputs, IntraOpThreads(threads));

    /// <summary>
    /// Throws if an input column has a name the chain uses for its own temporary columns (the graph's input names other
    /// than the user's byte columns, its output names other than the user's output columns): the chain would hide that
    /// column and then drop it.
    /// </summary>
    public static void CheckNames(IEnumerable<string> inputColumns, string bytesColumn, string extensionColumn,
        IEnumerable<(string OnnxOutput, string Column)> outputs, string component)
    {
        var temporaries = new[] { (Onnx.BGptOnnxExporter.BytesInput, bytesColumn), (Onnx.BGptOnnxExporter.ExtensionInput, extensionColumn) }
            .Concat(outputs).Where(p => p.Item1 != p.Item2).Select(p => p.Item1).ToHashSet();
        foreach (var name in inputColumns.Where(temporaries.Contains))
            throw new ArgumentOutOfRangeException("inputSchema", $"{component}: input column '{name}' has the name of one of the ONNX graph's " +
                "inputs or outputs, which the pipeline uses for a temporary column and then drops; rename it first (CopyColumns, then DropColumns).");
    }

    private static IEstimator<ITransformer> Chain(TransformsCatalog catalog, string onnxFile, string bytesColumn, string extensionColumn,
        IReadOnlyList<(string OnnxOutput, string Column)> outputs, int threads)
    {
        var temps = new List<string>();
        IEstimator<ITransformer>? chain = null;
        void Add(IEstimator<ITransformer> e) => chain = chain is null ? e : chain.Append(e);

        foreach (var (graphName, column) in new[] { (Onnx.BGptOnnxExporter.BytesInput, bytesColumn), (Onnx.BGptOnnxExporter.ExtensionInput, extensionColumn) })
            if (graphName != column) { Add(catalog.CopyColumns(graphName, column)); temps.Add(graphName); }

        var graphOutputs = outputs.Select(o => o.OnnxOutput).ToArray();
        var graphInputs = new[] { Onnx.BGptOnnxExporter.BytesInput, Onnx.BGptOnnxExporter.ExtensionInput };
        Add(catalog.ApplyOnnxModel(new Transforms.Onnx.OnnxOptions
        {
            ModelFile = onnxFile,
            InputColumns = graphInputs,
            OutputColumns = graphOutputs,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
        }));

        foreach (var (graphName, column) in outputs.Where(o => o.OnnxOutput != o.Column)) Add(catalog.CopyColumns(column, graphName));
        temps.AddRange(outputs.Where(o => o.OnnxOutput != o.Column).Select(o => o.OnnxOutput));
        if (temps.Count > 0) Add(catalog.DropColumns(temps.Distinct().ToArray()));
        return chain!;
    }
}

/// <summary>
/// Content-addressed ONNX files for ONNX Runtime sessions that need options (threads) only a file path can carry.
/// A file is never rewritten in place, so sessions that hold one stay valid. Each file is named by its content and
/// by the process that wrote it (<c>&lt;hash&gt;.&lt;pid&gt;.onnx</c>), because ML.NET reads it again when that
/// process saves a model: a process removes its own files when it exits, and each <see cref="Store"/> removes those of
/// processes that are gone (crashed, killed), so the folder does not grow with every model ever fitted.
/// </summary>
internal static class OnnxModelCache
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> FoldersUsed = new();

    public static string Store(byte[] onnx) => Store(stream => stream.Write(onnx));

    /// <summary>Writes a graph straight to the cache (no managed copy of its bytes) and returns its path.</summary>
    public static string Store(Action<Stream> write) => Store(write, Folder);

    /// <summary>
    /// <c>&lt;temp&gt;/bgpt-onnx-&lt;user&gt;</c>: a folder per user, created private to its owner where files have Unix
    /// modes, since ML.NET reads the file again when a model is saved.
    /// </summary>
    internal static string Folder =>
        Path.Combine(Path.GetTempPath(), "bgpt-onnx-" + string.Concat(Environment.UserName.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_')));

    internal static string Store(Action<Stream> write, string dir)
    {
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(dir);
        else Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (FoldersUsed.TryAdd(Path.GetFullPath(dir), true)) AppDomain.CurrentDomain.ProcessExit += (_, _) => RemoveOwnFiles(dir);
        RemoveFilesOfEndedProcesses(dir);
        var tmp = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            string hash;
            using (var stream = new FileStream(tmp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
                stream.Position = 0;
                hash = Hash(stream);
            }
            var path = Path.Combine(dir, $"{hash}.{Environment.ProcessId}.onnx");
            // Reused only if it still holds these bytes; a damaged or swapped file under the name is replaced (by a
            // rename, so a session that maps the old file keeps it).
            if (File.Exists(path) && HashOf(path) == hash) File.Delete(tmp);
            else File.Move(tmp, path, overwrite: true);
            return path;
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Removes this process's files from <paramref name="dir"/> (at exit: nothing reads them any more).</summary>
    internal static void RemoveOwnFiles(string dir)
    {
        foreach (var file in Files(dir).Where(f => Owner(f) == Environment.ProcessId)) TryDelete(file);
    }

    /// <summary>
    /// Removes the files whose writing process has ended, and files named before processes were (no owner) once they are
    /// a week old. A process that still runs keeps its files; one that cannot be inspected counts as running.
    /// </summary>
    internal static void RemoveFilesOfEndedProcesses(string dir)
    {
        foreach (var file in Files(dir))
        {
            bool ended = Owner(file) switch
            {
                null => File.GetLastWriteTimeUtc(file) < DateTime.UtcNow.AddDays(-7),
                int pid when pid == Environment.ProcessId => false,
                int pid => HasEnded(pid, File.GetLastWriteTimeUtc(file)),
            };
            if (ended) TryDelete(file);
        }
    }

    private static IEnumerable<string> Files(string dir) => Directory.Exists(dir) ? Directory.GetFiles(dir, "*.onnx") : [];

    private static int? Owner(string file)
    {
        var name = Path.GetFileNameWithoutExtension(file);
        int dot = name.LastIndexOf('.');
        return dot > 0 && int.TryParse(name.AsSpan(dot + 1), out int pid) ? pid : null;
    }

    // Ended: no such process, or the process under that id started after the file was written (the id was reused).
    private static bool HasEnded(int pid, DateTime writtenUtc)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return process.HasExited || process.StartTime.ToUniversalTime() > writtenUtc;
        }
        catch (ArgumentException) { return true; }
        catch (InvalidOperationException) { return true; }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or NotSupportedException or UnauthorizedAccessException) { return false; }
    }

    private static void TryDelete(string file)
    {
        try { File.Delete(file); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static string HashOf(string path)
    {
        using var stream = File.OpenRead(path);
        return Hash(stream);
    }

    private static string Hash(Stream stream) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(stream))[..32];
}
