using Microsoft.ML.BGpt;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Onnx;
using Microsoft.ML.BGpt.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

/// <summary>
/// int8=1: the trained classifier exported to ONNX and served in fp32, in int8 with 8-bit weights and in int8 with 7-bit
/// weights (OnnxQuantizationOptions.ReduceRange), on held-out training files: accuracy, agreement with fp32 and the
/// largest feature difference. Tells whether reduced range pays on this CPU (no VNNI: ONNX Runtime's 16-bit pair sums).
/// </summary>
internal static class Int8Accuracy
{
    public static void Run(BGptClassifier model, IReadOnlyList<ByteExample> heldOut, TruncationStrategy truncation, int threads)
    {
        var fp32 = BGptOnnxExporter.Export(ModelWeights.Export(model), model.Config,
            new BGptOnnxOptions { Head = OnnxHead.Classifier, Truncation = truncation });
        Console.WriteLine($"int8: OnnxQuantizer.CpuNeedsReducedRange = {OnnxQuantizer.CpuNeedsReducedRange}; {heldOut.Count} held-out files");
        List<(int Predicted, float[] Features)>? reference = null;
        foreach (var (name, graph) in new[]
        {
            ("fp32", fp32),
            ("int8, 8-bit weights", OnnxQuantizer.QuantizeDynamic(fp32, new OnnxQuantizationOptions { ReduceRange = false })),
            ("int8, 7-bit weights", OnnxQuantizer.QuantizeDynamic(fp32, new OnnxQuantizationOptions { ReduceRange = true })),
        })
        {
            using var options = new SessionOptions { IntraOpNumThreads = threads, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            using var session = new InferenceSession(graph, options);
            var results = heldOut.Select(e => Run(session, e)).ToList();
            reference ??= results;
            double accuracy = results.Zip(heldOut).Average(p => p.First.Predicted == p.Second.Label ? 1.0 : 0.0);
            double agree = results.Zip(reference).Average(p => p.First.Predicted == p.Second.Predicted ? 1.0 : 0.0);
            double maxDiff = results.Zip(reference).Max(p => p.First.Features.Zip(p.Second.Features, (a, b) => Math.Abs(a - b)).Max());
            double maxAbs = reference.Max(r => r.Features.Max(Math.Abs));
            Console.WriteLine($"  {name,-20} accuracy {accuracy:P2}, same prediction as fp32 {agree:P2}, features max |Δ| {maxDiff:0.0000} (max |x| {maxAbs:0.00})");
        }
    }

    private static (int Predicted, float[] Features) Run(InferenceSession session, ByteExample e)
    {
        var content = e.Content.ToArray();
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor(BGptOnnxExporter.BytesInput, new DenseTensor<byte>(content, [1, content.Length])),
            NamedOnnxValue.CreateFromTensor(BGptOnnxExporter.ExtensionInput, new DenseTensor<byte>(Array.Empty<byte>(), [1, 0])),
        };
        using var outputs = session.Run(inputs);
        var logits = outputs.First(o => o.Name == BGptOnnxExporter.LogitsOutput).AsTensor<float>().ToArray();
        var features = outputs.First(o => o.Name == BGptOnnxExporter.FeaturesOutput).AsTensor<float>().ToArray();
        return (Array.IndexOf(logits, logits.Max()), features);
    }
}
