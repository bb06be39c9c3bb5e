using FluentAssertions;
using Microsoft.ML.BGpt.Training;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests.Training;

/// <summary>
/// <see cref="BGptAdamW"/> against TorchSharp's <c>optim.AdamW</c> (the same torch 1.13 formula, with its temporaries
/// kept to the end of the step) over several steps with a changing rate; the one-step check against the original's
/// own outputs is in TrainingStepTests.
/// </summary>
[Collection(TorchGlobalState.Name)]
public class AdamWTests(ITestOutputHelper output)
{
    private static (Linear A, Linear B) Pair()
    {
        manual_seed(11);
        var a = nn.Linear(7, 5);
        var b = nn.Linear(7, 5);
        using (no_grad()) foreach (var (pa, pb) in a.parameters().Zip(b.parameters())) pb.copy_(pa);
        return (a, b);
    }

    [Fact]
    public void Matches_torch_AdamW_over_steps_with_a_schedule()
    {
        var (a, b) = Pair();
        using var _a = a;
        using var _b = b;
        using var ours = new BGptAdamW(a.parameters(), learningRate: 1e-2, weightDecay: 0.1);
        using var theirs = optim.AdamW(b.parameters(), 1e-2, 0.9, 0.999, 1e-8, 0.1);
        manual_seed(3);
        using var x = randn(4, 7);
        using var y = randn(4, 5);
        double max = 0;
        for (int step = 0; step < 6; step++)
        {
            double lr = 1e-2 * (step + 1) / 6;
            ours.LearningRate = lr;
            foreach (var g in theirs.ParamGroups) g.LearningRate = lr;
            using (NewDisposeScope())
            {
                ours.ZeroGrad();
                theirs.zero_grad();
                nn.functional.mse_loss(a.forward(x), y).backward();
                nn.functional.mse_loss(b.forward(x), y).backward();
                ours.Step();
                theirs.step();
            }
            using (no_grad())
                foreach (var (pa, pb) in a.parameters().Zip(b.parameters()))
                    using (NewDisposeScope()) max = Math.Max(max, (pa - pb).abs().max().item<float>());
        }
        output.WriteLine($"largest parameter difference after 6 steps: {max:E2}");
        max.Should().BeLessThan(1e-7);
        using (no_grad())
            a.weight!.abs().sum().item<float>().Should().NotBe(0);
        ours.StateOf(0)!.Value.Step.Should().Be(6);
    }

    [Fact]
    public void The_fused_pass_equals_libtorchs_operations_within_the_last_bits()
    {
        // Sizes with and without a vector tail, over the 16K-element chunks; gradients of mixed scale, some zero.
        FusedAdamW.IsAvailable.Should().BeTrue("the fused pass must run on the TorchSharp the library ships with");
        manual_seed(21);
        long[] sizes = { 3, 768, 50_001, 40_000 };
        var fused = sizes.Select(n => new TorchSharp.Modules.Parameter(randn(n))).ToArray();
        var torch = fused.Select(p => new TorchSharp.Modules.Parameter(p.detach().clone())).ToArray();
        using var a = new BGptAdamW(fused, learningRate: 3e-3, weightDecay: 0.1);
        using var b = new BGptAdamW(torch, learningRate: 3e-3, weightDecay: 0.1) { UseFusedUpdate = false };
        for (int step = 0; step < 5; step++)
        {
            a.LearningRate = b.LearningRate = 3e-3 * (step + 1) / 5;
            using (NewDisposeScope())
                for (int i = 0; i < sizes.Length; i++)
                {
                    var g = randn(sizes[i]) * Math.Pow(10, i - 2);
                    g.index_put_(0f, g.abs() < 0.05 * Math.Pow(10, i - 2));
                    fused[i].grad = g.clone();
                    torch[i].grad = g.clone();
                }
            a.Step();
            b.Step();
        }
        long equal = 0, total = 0;
        for (int i = 0; i < sizes.Length; i++)
            using (NewDisposeScope())
            {
                var (sa, sb) = (a.StateOf(i)!.Value, b.StateOf(i)!.Value);
                sa.ExpAvg.ne(sb.ExpAvg).sum().item<long>().Should().Be(0, $"the first moments of parameter {i} must be bit-identical");
                // libtorch's scalar loop (a vector's remainder) fuses addcmul's multiply-add where its vector loop does
                // not, and the two split a tensor differently: the second moments within one ulp.
                (sa.ExpAvgSq - sb.ExpAvgSq).abs().le(sb.ExpAvgSq * 1.2e-7).all().item<bool>().Should().BeTrue($"the second moments of parameter {i} must be within one ulp");
                // The parameters also go through the square root, IEEE-rounded here and not always in libtorch's
                // vector sqrt (MKL's): within two float32 ulps of libtorch's value or of the updates' size (5 x lr).
                Tensor x = fused[i], y = torch[i];
                (x - y).abs().le((y.abs() + 1.5e-2) * 2.4e-7).all().item<bool>().Should().BeTrue($"parameter {i} must be within 2 ulp");
                equal += x.eq(y).sum().item<long>();
                total += x.numel();
            }
        output.WriteLine($"{equal} of {total} parameter values bit-identical to libtorch's after 5 steps");
        equal.Should().BeGreaterThan(total * 9 / 10);
    }

    [Fact]
    public void Skips_parameters_without_a_gradient_and_zeroes_in_place()
    {
        manual_seed(5);
        using var used = nn.Linear(3, 2);
        using var unused = nn.Linear(3, 2);
        using var optimizer = new BGptAdamW(used.parameters().Concat(unused.parameters()), learningRate: 0.1, weightDecay: 0.5);
        using var before = unused.weight!.detach().clone();
        using (NewDisposeScope()) used.forward(ones(1, 3)).sum().backward();
        optimizer.Step();
        unused.weight!.grad.Should().BeNull();
        using (no_grad()) unused.weight.allclose(before, 0, 0).Should().BeTrue("no gradient means no update, not even weight decay");
        optimizer.StateOf(2).Should().BeNull();
        optimizer.StateOf(0).Should().NotBeNull();

        optimizer.ZeroGrad();
        using (NewDisposeScope()) used.weight!.grad!.abs().sum().item<float>().Should().Be(0);
    }

    [Fact]
    public void Resumed_state_continues_the_same_trajectory()
    {
        var (a, b) = Pair();
        using var _a = a;
        using var _b = b;
        using var first = new BGptAdamW(a.parameters(), learningRate: 1e-2);
        using var x = ones(2, 7);
        void Train(Linear m, BGptAdamW o)
        {
            using var scope = NewDisposeScope();
            o.ZeroGrad();
            m.forward(x).pow(2).sum().backward();
            o.Step();
        }
        Train(a, first);
        using (no_grad()) foreach (var (pa, pb) in a.parameters().Zip(b.parameters())) pb.copy_(pa);
        using var second = new BGptAdamW(b.parameters(), learningRate: 1e-2);
        for (int i = 0; i < 2; i++) { var s = first.StateOf(i)!.Value; second.SetState(i, s.Step, s.ExpAvg, s.ExpAvgSq); }
        Train(a, first);
        Train(b, second);
        using (no_grad()) a.weight!.allclose(b.weight!, 0, 0).Should().BeTrue();
        var act = () => second.SetState(0, 1, zeros(2, 2), zeros(2, 2));
        act.Should().Throw<ArgumentException>().WithMessage("*shape*");
    }
}
