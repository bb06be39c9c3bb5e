using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>
/// Tensor additions that pass TorchSharp a long-lived alpha. TorchSharp 0.107's <c>a + b</c> creates a temporary
/// <see cref="Scalar"/> for alpha and passes only its handle to native code; if a garbage collection finalizes that
/// Scalar during the call, libtorch reads freed memory (seen as "Expected false to be true ... Scalar::toFloat" in a
/// long training run). A static Scalar is never finalized, so hot paths use these helpers instead of the operator.
/// </summary>
internal static class Ops
{
    private static readonly Scalar One = 1.ToScalar();

    /// <summary>a + b (broadcasting), as <c>torch.add(a, b)</c>.</summary>
    public static Tensor Add(Tensor a, Tensor b) => a.add(b, One);
}
