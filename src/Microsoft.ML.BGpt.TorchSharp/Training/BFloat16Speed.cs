using System.Diagnostics;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Training;

/// <summary>
/// How fast this CPU multiplies bfloat16 matrices next to float32 ones, measured once per process. libtorch's fast
/// bf16 path (oneDNN) needs AVX-512; elsewhere it falls back to a scalar loop. Measured (docs/benchmarks.md): a 2048³
/// product at 0.3 GFLOP/s in bf16 against 164 in fp32 on an AVX2-only AMD EPYC (0.002×; 256³: 0.012×), 2.3× fp32's
/// rate on an AMD EPYC with AVX512-BF16; bf16 models ran at 0.4–0.7× fp32 on an AVX-512 Xeon without AVX512-BF16. Choosing <see cref="TrainingPrecision.BFloat16Mixed"/> where it is slow
/// would make training tens of times slower, so the Auto recipe only tries bf16 where <see cref="IsFast"/>.
/// </summary>
public static class BFloat16Speed
{
    private static readonly Lazy<double> Ratio = new(Measure, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// bf16 matmul FLOP/s over fp32 matmul FLOP/s for a 256 × 256 × 256 product, on the threads torch is given, best of
    /// a few runs each. A slow bf16 path is recognised from two runs, so the measurement costs at most a fraction of a second.
    /// </summary>
    public static double RelativeToFloat32 => Ratio.Value;

    /// <summary>Whether bf16 matrix products run at least <see cref="FastThreshold"/> of fp32's speed.</summary>
    public static bool IsFast => RelativeToFloat32 >= FastThreshold;

    /// <summary>
    /// The ratio under which bf16 is not worth trying. Set well under 1 (bf16 training has to beat fp32 by 1.15× to be
    /// chosen, and small products carry oneDNN's set-up), far above the scalar fallback's 0.01–0.02: a CPU with native
    /// bf16 is never mistaken for one without.
    /// </summary>
    public const double FastThreshold = 0.5;

    private static double Measure()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var generator = new Generator(7); // not torch's global one: measuring must not shift a seeded run
        var a = randn(256, 256, generator: generator);
        var b = randn(256, 256, generator: generator);
        var a16 = a.to_type(ScalarType.BFloat16);
        var b16 = b.to_type(ScalarType.BFloat16);
        double fp32 = Best(a, b, 7);
        // The first run includes oneDNN's kernel set-up; a second as slow means the slow path, which is timed no more.
        double second = Math.Min(Time(a16, b16), Time(a16, b16));
        double bf16 = second > 20 * fp32 ? second : Math.Min(second, Best(a16, b16, 7));
        return fp32 / bf16;
    }

    private static double Best(Tensor a, Tensor b, int runs)
    {
        Time(a, b);
        double best = double.MaxValue;
        for (int i = 0; i < runs; i++) best = Math.Min(best, Time(a, b));
        return best;
    }

    private static double Time(Tensor a, Tensor b)
    {
        var clock = Stopwatch.StartNew();
        using var c = a.matmul(b);
        return clock.Elapsed.TotalSeconds;
    }
}
