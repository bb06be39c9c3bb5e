using Microsoft.ML.BGpt.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>
/// Moves weights between a TorchSharp bGPT module and the original's state-dict tensors. Parameter names are the
/// original's; only the patch embedding is stored transposed here ([P * 257, H] rows for gathering).
/// </summary>
public static class ModelWeights
{
    private const string PatchEmbeddingWeight = "patch_level_decoder.patch_embedding.weight";

    /// <summary>
    /// Copies <paramref name="weights"/> into <paramref name="model"/>, checking every shape.
    /// </summary>
    /// <param name="model">A bGPT module (<see cref="BGptLMHeadModel"/>, <see cref="BGptClassifier"/> or a part).</param>
    /// <param name="weights">Tensors by the original's names.</param>
    /// <param name="source">The file the weights came from, for error messages.</param>
    /// <param name="optional">Model tensors that may be absent from <paramref name="weights"/> (they keep their values).</param>
    /// <exception cref="BGptCheckpointException">A tensor is missing or has the wrong shape.</exception>
    public static void Load(nn.Module model, IReadOnlyDictionary<string, TensorData> weights, string? source,
        Func<string, bool>? optional = null)
    {
        using var _ = no_grad();
        foreach (var (key, target) in model.state_dict())
        {
            if (!weights.TryGetValue(key, out var data))
            {
                if (optional?.Invoke(key) == true) continue;
                throw new BGptCheckpointException(source, $"missing from the checkpoint (the model expects shape {Format(OriginalShape(key, target.shape))}).", key);
            }
            var expected = OriginalShape(key, target.shape);
            if (!data.Shape.SequenceEqual(expected))
                throw new BGptCheckpointException(source, $"has shape {Format(data.Shape)}, but the model expects {Format(expected)}.", key);
            using var scope = NewDisposeScope();
            var src = View(data);
            target.copy_(key == PatchEmbeddingWeight ? src.t() : src);
        }
        Runtime.NativeMemory.Release(); // the per-tensor staging copies (the model's size in all) stay resident otherwise
    }

    /// <summary>The model's tensors by the original's names and in the original's layout.</summary>
    public static Dictionary<string, TensorData> Export(nn.Module model)
    {
        var result = new Dictionary<string, TensorData>();
        foreach (var (key, value) in model.state_dict())
        {
            using var scope = NewDisposeScope(); // detach, t, contiguous, cpu and to_type each make a tensor
            var t = key == PatchEmbeddingWeight ? value.detach().t().contiguous() : value.detach().contiguous();
            var cpu = t.cpu().to_type(ScalarType.Float32);
            result[key] = TensorData.FromFloats(cpu.data<float>().ToArray(), cpu.shape);
        }
        return result;
    }

    /// <summary>A float32 tensor copied straight from the checkpoint's bytes where it can (no managed float copy), else converted.</summary>
    private static Tensor View(TensorData data)
    {
        if (data.DType != TensorDType.Float32 || !BitConverter.IsLittleEndian || data.ElementCount == 0)
            return tensor(data.ToFloatArray(), data.Shape);
        var t = empty(data.Shape, ScalarType.Float32);
        t.bytes = data.Data;
        return t;
    }

    private static long[] OriginalShape(string key, long[] shape) => key == PatchEmbeddingWeight ? new[] { shape[1], shape[0] } : shape;

    private static string Format(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
