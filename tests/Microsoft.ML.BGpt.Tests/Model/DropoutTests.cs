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
    public void Odd_sizes_and_a_partial_last_chunk_are_masked_like_the_rest()
    {
        // 2^17 + 3 elements: two whole 64K chunks and a partial third of odd length; each part drops its share.
        using var scope = NewDisposeScope();
        manual_seed(21);
        const long n = (1 << 17) + 3;
        var dropped = Dropout.Apply(ones(n), 0.3, true).eq(0).to_type(ScalarType.Float64);
        foreach (var (start, length) in new[] { (0L, 1L << 16), (1L << 16, 1L << 16) })
            dropped.narrow(0, start, length).mean().item<double>().Should().BeApproximately(0.3, 5 * Math.Sqrt(0.21 / length));
        // The 3-element tail, over many calls: every position, the odd last one too, is dropped about 30 % of the time.
        var tails = Enumerable.Range(0, 2000).Select(_ => Dropout.Apply(ones(3), 0.3, true).eq(0).to_type(ScalarType.Float64)).ToArray();
        var perPosition = stack(tails).mean(new long[] { 0 }).data<double>().ToArray();
        perPosition.Should().OnlyContain(share => Math.Abs(share - 0.3) < 5 * Math.Sqrt(0.21 / 2000));
    }

    [Fact]
    public void Written_out_attention_drops_probabilities_and_equals_scaled_dot_product_attention_without_dropping()
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
        var kept = CausalSelfAttention.AttendWithDropout(q, k, v, allowed, 1e-12);
        (kept - expected).abs().max().item<float>().Should().BeLessThan(1e-5f);

        // With dropping, the mask falls on the probabilities: the same seed's mask, applied by hand, gives the same output.
        var probs = (matmul(q, k.transpose(2, 3)) / Math.Sqrt(hd)).masked_fill(allowed.logical_not(), double.NegativeInfinity).softmax(-1);
        manual_seed(99);
        var mask = Dropout.Mask(probs.shape, 0.6, ScalarType.Float32);
        manual_seed(99);
        var dropped = CausalSelfAttention.AttendWithDropout(q, k, v, allowed, 0.4);
        (dropped - matmul(probs * mask, v)).abs().max().item<float>().Should().BeLessThan(1e-5f);
        (dropped - expected).abs().max().item<float>().Should().BeGreaterThan(1e-2f, "something was dropped");

        // bf16 inputs are attended in float32 (libtorch's math path does the same) and come back as bf16: with scores in
        // the tens, bf16 scores would move the probabilities by several percent; here only the output is rounded.
        var (qb, kb, vb) = ((q * 8).to_type(ScalarType.BFloat16), k.to_type(ScalarType.BFloat16), v.to_type(ScalarType.BFloat16));
        var bf16 = CausalSelfAttention.AttendWithDropout(qb, kb, vb, allowed, 1e-12);
        bf16.dtype.Should().Be(ScalarType.BFloat16);
        var reference = F.scaled_dot_product_attention(qb.to_type(ScalarType.Float32), kb.to_type(ScalarType.Float32), vb.to_type(ScalarType.Float32), allowed);
        var excess = (bf16.to_type(ScalarType.Float32) - reference).abs() - reference.abs() / 256 - 1e-6;   // half a bf16 ulp or more
        excess.max().item<float>().Should().BeLessThanOrEqualTo(0, "only the output is rounded to bf16");

        // A query that may see no key (never in the trainers' batches) gets zeros, as libtorch's safe softmax gives it, not NaN.
        var none = allowed.clone();
        none[0, 0, 0].fill_(false);
        var row = CausalSelfAttention.AttendWithDropout(q, k, v, none, 1e-12);
        row[0, TensorIndex.Colon, 0].abs().max().item<float>().Should().Be(0);
        row.isnan().any().item<bool>().Should().BeFalse();
    }
}
