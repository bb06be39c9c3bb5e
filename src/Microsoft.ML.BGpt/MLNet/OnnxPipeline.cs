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
/// A file is never rewritten, so sessions that hold one stay valid.
/// </summary>
internal static class OnnxModelCache
{
    public static string Store(byte[] onnx) => Store(stream => stream.Write(onnx));

    /// <summary>Writes a graph straight to the cache (no managed copy of its bytes) and returns its path.</summary>
    public static string Store(Action<Stream> write) => Store(write, Path.Combine(Path.GetTempPath(), "bgpt-onnx"));

    internal static string Store(Action<Stream> write, string dir)
    {
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            string hash;
            using (var stream = new FileStream(tmp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
                stream.Position = 0;
                hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(stream))[..32];
            }
            var path = Path.Combine(dir, hash + ".onnx");
            if (File.Exists(path)) File.Delete(tmp);
            else File.Move(tmp, path, overwrite: true);
            return path;
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
