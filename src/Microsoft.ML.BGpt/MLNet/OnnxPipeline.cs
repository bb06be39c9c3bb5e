using Microsoft.ML.Data;

namespace Microsoft.ML.BGpt.MLNet;

/// <summary>
/// Wraps an exported bGPT ONNX graph into standard ML.NET estimators: copy the user's columns to the graph's input
/// names, apply the graph with ONNX Runtime, copy the graph's outputs to the user's names, drop the temporaries.
/// </summary>
internal static class OnnxPipeline
{
    public static IEstimator<ITransformer> Build(TransformsCatalog catalog, byte[] onnx, string bytesColumn, string extensionColumn,
        IReadOnlyList<(string OnnxOutput, string Column)> outputs, int? threads = null)
    {
        var temps = new List<string>();
        IEstimator<ITransformer>? chain = null;
        void Add(IEstimator<ITransformer> e) => chain = chain is null ? e : chain.Append(e);

        foreach (var (graphName, column) in new[] { (Onnx.BGptOnnxExporter.BytesInput, bytesColumn), (Onnx.BGptOnnxExporter.ExtensionInput, extensionColumn) })
            if (graphName != column) { Add(catalog.CopyColumns(graphName, column)); temps.Add(graphName); }

        var graphOutputs = outputs.Select(o => o.OnnxOutput).ToArray();
        var graphInputs = new[] { Onnx.BGptOnnxExporter.BytesInput, Onnx.BGptOnnxExporter.ExtensionInput };
        if (threads is null)
            Add(catalog.ApplyOnnxModel(graphOutputs, graphInputs, new MemoryStream(onnx)));
        else
            Add(catalog.ApplyOnnxModel(new Transforms.Onnx.OnnxOptions
            {
                ModelFile = OnnxModelCache.Store(onnx),
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
    public static string Store(byte[] onnx)
    {
        var dir = Path.Combine(Path.GetTempPath(), "bgpt-onnx");
        Directory.CreateDirectory(dir);
        var name = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(onnx))[..32] + ".onnx";
        var path = Path.Combine(dir, name);
        if (!File.Exists(path))
        {
            var tmp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
            File.WriteAllBytes(tmp, onnx);
            File.Move(tmp, path, overwrite: true);
        }
        return path;
    }
}
