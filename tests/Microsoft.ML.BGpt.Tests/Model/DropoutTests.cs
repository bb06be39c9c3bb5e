using FluentAssertions;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Tests.Training;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.BGpt.Tests.Model;

/// <summary>
/// The model's dropout draws its masks with xoshiro256** from one seed of torch's generator; these tests hold it to
/// what torch's dropout computes (zero with probability p, scale the rest by 1 / (1 - p)), to the seed, and the
/// written-out training attention to scaled-dot-product attention.
/// </summary>
[Collection(TorchGlobalState.Name)]
public class DropoutTests
{
    [Theory]
    [InlineData(0.1)]
    [InlineData(0.2)]
    [InlineData(0.5)]
    public void Zeroes_a_share_p_and_scales_the_rest_by_one_over_one_minus_p(double p)
    {
        manual_seed(3);
        using var scope = NewDisposeScope();
        const int n = 1 << 20;
        var x = rand(4, n / 4) + 0.5;                              // no zeros of its own
        var y = Dropout.Apply(x, p, training: true);
        var dropped = y.eq(0).to_type(ScalarType.Float64).mean().item<double>();
        // A binomial share over 2^20 draws: 5 standard errors is about 0.0025 at p = 0.5.
        dropped.Should().BeApproximately(p, 5 * Math.Sqrt(p * (1 - p) / n));
        var kept = y.ne(0);
        var ratio = y.masked_select(kept) / x.masked_select(kept);
        ratio.min().item<float>().Should().BeApproximately((float)(1 / (1 - p)), 1e-5f);
        ratio.max().item<float>().Should().BeApproximately((float)(1 / (1 - p)), 1e-5f);
    }

    [Fact]
    public void Masks_follow_torch_seed_and_differ_between_calls()
    {
        using var scope = NewDisposeScope();
        var x = ones(64, 1000);
        manual_seed(5);
        var first = Dropout.Apply(x, 0.3, true);
        var second = Dropout.Apply(x, 0.3, true);
        manual_seed(5);
        var again = Dropout.Apply(x, 0.3, true);
        Same(again, first).Should().BeTrue("the same seed gives the same mask");
        Same(second, first).Should().BeFalse("each call draws a new mask");
        // Neighbouring chunks of a large mask get their own streams, not copies of one.
        var big = Dropout.Apply(ones(1 << 18), 0.5, true);
        Same(big.narrow(0, 0, 1 << 16), big.narrow(0, 1 << 16, 1 << 16)).Should().BeFalse();
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void Eval_mode_and_zero_p_leave_the_input_as_it_is_and_p_outside_0_1_is_refused()
    {
        using var scope = NewDisposeScope();
        var x = randn(8, 8);
        Same(Dropout.Apply(x, 0.4, training: false), x).Should().BeTrue();
        Same(Dropout.Apply(x, 0, training: true), x).Should().BeTrue();
        var act = () => Dropout.Apply(x, 1, training: true);
        act.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("p");
    }

    [Fact]
    public void The_gradient_is_the_mask_scaled_and_bf16_inputs_keep_their_dtype()
    {
        manual_seed(9);
        using var scope = NewDisposeScope();
        var x = randn(16, 32).requires_grad_(true);
        var y = Dropout.Apply(x, 0.25, true);
        y.sum().backward();
        using (no_grad())
        {
            var expected = y.ne(0).to_type(ScalarType.Float32) / 0.75f;
            x.grad!.allclose(expected, 1e-6, 1e-6).Should().BeTrue();
        }
        Dropout.Apply(randn(4, 4).to_type(ScalarType.BFloat16), 0.25, true).dtype.Should().Be(ScalarType.BFloat16);
    }

    [Fact]
    public void Written_out_attention_without_dropping_equals_scaled_dot_product_attention()
    {
        manual_seed(13);
        using var scope = NewDisposeScope();
        long b = 2, heads = 3, t = 5, past = 2, hd = 4;
        var q = randn(b, heads, t, hd);
        var k = randn(b, heads, past + t, hd);
        var v = randn(b, heads, past + t, hd);
        var keyMask = tensor(new[] { true, true, true, true, true, true, true, true, true, true, true, true, false, false }, b, past + t);
        var allowed = ones(t, past + t, ScalarType.Bool).tril(past).view(1, 1, t, past + t).logical_and(keyMask.view(b, 1, 1, past + t));
        var expected = F.scaled_dot_product_attention(q, k, v, allowed);
        // p this small keeps every element (the 32-bit threshold rounds to all) at scale 1 + 1e-12.
        var actual = CausalSelfAttention.AttendWithDropout(q, k, v, allowed, 1e-12);
        (actual - expected).abs().max().item<float>().Should().BeLessThan(1e-5f);
    }
}
