using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>An exported bGPT model in an ONNX Runtime session with default (all) graph optimizations.</summary>
public sealed class OnnxRunner : IDisposable
{
    private readonly InferenceSession _session;

    public OnnxRunner(byte[] model) => _session = new InferenceSession(model);

    public static OnnxRunner Export(IReadOnlyDictionary<string, TensorData> weights, BGptOnnxOptions options) =>
        new(BGptOnnxExporter.Export(weights, ReferenceFixtures.Config, options));

    public InferenceSession Session => _session;

    /// <summary>Runs the graph on one file and returns every output as floats with its shape.</summary>
    public Dictionary<string, (float[] Values, long[] Shape)> Run(byte[] content, byte[] extension)
    {
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor(BGptOnnxExporter.BytesInput, new DenseTensor<byte>(content, [1, content.Length])),
            NamedOnnxValue.CreateFromTensor(BGptOnnxExporter.ExtensionInput, new DenseTensor<byte>(extension, [1, extension.Length])),
        };
        using var results = _session.Run(inputs);
        return results.ToDictionary(r => r.Name, r =>
        {
            var t = r.AsTensor<float>();
            return (t.ToArray(), t.Dimensions.ToArray().Select(d => (long)d).ToArray());
        });
    }

    public void Dispose() => _session.Dispose();
}
