using Microsoft.ML.BGpt.Training;

namespace Microsoft.ML.BGpt.Benchmarks;

/// <summary>
/// Whether this run times bf16 rows: only where <see cref="BFloat16Speed.IsFast"/>. Without a native bf16 path
/// libtorch's bf16 matmul is hundreds of times slower than fp32 (2048³ at 0.3 GFLOP/s against 164 on an AVX2-only AMD
/// EPYC), and the bf16 rows alone would take most of an hour to say so; each skipped row says why instead.
/// </summary>
internal static class Bf16
{
    public static bool Runs => BFloat16Speed.IsFast;

    public static string Skipped => $"skipped: bf16 matmul at {BFloat16Speed.RelativeToFloat32:0.000}× fp32 on this CPU (256³, BFloat16Speed: no native bf16 path)";

    /// <summary>The precisions of the TorchSharp rows: fp32, and bf16 where it runs.</summary>
    public static T[] With<T>(T fp32, T bf16) => Runs ? [fp32, bf16] : [fp32];
}
