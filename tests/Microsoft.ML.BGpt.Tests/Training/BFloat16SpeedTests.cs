using System.Runtime.Intrinsics.X86;
using FluentAssertions;
using Microsoft.ML.BGpt.Training;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests.Training;

/// <summary><see cref="BFloat16Speed"/>: a real measurement that leaves torch's random stream alone.</summary>
[Collection(TorchGlobalState.Name)]
public class BFloat16SpeedTests(ITestOutputHelper output)
{
    [Fact]
    public void Measures_a_ratio_without_drawing_from_torchs_generator()
    {
        manual_seed(5);
        using var expected = randn(4);
        manual_seed(5);
        double ratio = BFloat16Speed.RelativeToFloat32;
        using var actual = randn(4);
        output.WriteLine($"bf16 / fp32 matmul speed on this CPU: {ratio:0.0000} (AVX-512: {Avx512F.IsSupported})");
        actual.data<float>().ToArray().Should().Equal(expected.data<float>().ToArray(), "measuring must not shift a seeded run's random numbers");
        ratio.Should().BeGreaterThan(0).And.BeLessThan(100);
        BFloat16Speed.IsFast.Should().Be(ratio >= BFloat16Speed.FastThreshold);
    }

    [Fact]
    public void Without_AVX512_bf16_is_not_fast()
    {
        // libtorch's fast bf16 path (oneDNN) needs AVX-512; without it bf16 products run on a scalar loop hundreds of times
        // slower, which the measurement must see (on AVX-512 CPUs either answer is possible, so nothing is asserted).
        if (!X86Base.IsSupported || Avx512F.IsSupported) return;
        BFloat16Speed.IsFast.Should().BeFalse($"bf16 ran at {BFloat16Speed.RelativeToFloat32:0.000}x fp32 on a CPU without AVX-512");
    }
}
