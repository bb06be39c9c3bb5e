using FluentAssertions;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>Element-wise comparison of a tensor with reference values; returns the largest absolute error.</summary>
public static class Compare
{
    public static double MaxAbs(Tensor actual, float[] expected, long[] expectedShape, double tolerance, string what)
    {
        actual.shape.Should().Equal(expectedShape, $"{what} has the reference shape");
        using var cpu = actual.detach().cpu().contiguous();
        var values = cpu.data<float>().ToArray();
        double max = 0;
        for (int i = 0; i < values.Length; i++) max = Math.Max(max, Math.Abs(values[i] - expected[i]));
        max.Should().BeLessThanOrEqualTo(tolerance, $"{what} matches the original within {tolerance}");
        return max;
    }

    public static void Relative(double actual, double expected, double tolerance, string what) =>
        Math.Abs(actual - expected).Should().BeLessThanOrEqualTo(tolerance * Math.Abs(expected), $"{what}: {actual} vs {expected}");
}
