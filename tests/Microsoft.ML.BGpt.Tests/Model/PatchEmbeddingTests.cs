using FluentAssertions;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Tests.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests.Model;

/// <summary>
/// The patch embedding sums rows with libtorch's embedding_bag; these tests hold it to the plain gather-then-sum it
/// replaced (the original's Linear over one-hot patches, as the reference-forward tests check against the goldens).
/// </summary>
[Collection(TorchGlobalState.Name)]
public class PatchEmbeddingTests
{
    private const int PatchSize = 4, Vocab = 257, Hidden = 8;

    [Fact]
    public void Forward_and_gradients_equal_a_gather_then_sum()
    {
        manual_seed(11);
        using var embedding = new PatchEmbedding(PatchSize, Vocab, Hidden);
        using var patches = Patches(batch: 3, patchCount: 5);
        var (weight, bias) = (Parameter(embedding, "weight"), Parameter(embedding, "bias"));
        using var upstream = randn(3, 5, Hidden);

        using var y = embedding.forward(patches);
        using (var loss = (y * upstream).sum()) loss.backward();
        using var gradWeight = weight.grad!.clone();
        using var gradBias = bias.grad!.clone();
        weight.grad!.zero_();
        bias.grad!.zero_();

        using var expected = GatherThenSum(weight, bias, patches);
        using (var loss = (expected * upstream).sum()) loss.backward();

        y.shape.Should().Equal(3, 5, Hidden);
        MaxDiff(y, expected).Should().BeLessThan(1e-6);
        MaxDiff(gradWeight, weight.grad!).Should().BeLessThan(1e-6);
        MaxDiff(gradBias, bias.grad!).Should().BeLessThan(1e-5);
        gradWeight.abs().sum().item<float>().Should().BeGreaterThan(0, "the weight must receive the gradient");
    }

    [Fact]
    public void A_dtype_move_is_followed_and_a_frozen_weight_stays_frozen()
    {
        manual_seed(12);
        using var embedding = new PatchEmbedding(PatchSize, Vocab, Hidden);
        using var patches = Patches(batch: 2, patchCount: 3);
        using (var first = embedding.forward(patches)) first.dtype.Should().Be(ScalarType.Float32);

        embedding.to(ScalarType.BFloat16);
        var (weight, bias) = (Parameter(embedding, "weight"), Parameter(embedding, "bias"));
        using (var moved = embedding.forward(patches))
        using (var expected = GatherThenSum(weight, bias, patches))
        {
            moved.dtype.Should().Be(ScalarType.BFloat16, "the rows come from the moved weight, not the first one");
            MaxDiff(moved.to_type(ScalarType.Float32), expected.to_type(ScalarType.Float32)).Should().BeLessThan(0.02);
        }

        using var frozen = new PatchEmbedding(PatchSize, Vocab, Hidden);
        Parameter(frozen, "weight").requires_grad_(false);
        using (var _ = frozen.forward(patches)) Parameter(frozen, "weight").requires_grad.Should().BeFalse();
    }

    [Fact]
    public void The_first_forward_leaves_the_global_generator_where_it_was()
    {
        using var embedding = new PatchEmbedding(PatchSize, Vocab, Hidden);
        using var patches = Patches(batch: 1, patchCount: 2);
        manual_seed(13);
        using var expected = rand(4);
        manual_seed(13);
        using (var _ = embedding.forward(patches)) { }
        using var after = rand(4);
        after.data<float>().ToArray().Should().Equal(expected.data<float>().ToArray(), "seeded dropout and sampling must not shift");
    }

    private static Tensor Patches(int batch, int patchCount) => randint(0, Vocab, new long[] { batch, patchCount, PatchSize });

    // Row i * 257 + v for byte v at position i of a patch, gathered, then summed over the patch.
    private static Tensor GatherThenSum(Tensor weight, Tensor bias, Tensor patches)
    {
        using var offsets = arange(0, PatchSize * Vocab, Vocab);
        using var rows = (patches + offsets).view(-1);
        using var gathered = weight.index_select(0, rows).view(patches.shape[0], patches.shape[1], PatchSize, Hidden);
        using var summed = gathered.sum(2);
        return summed + bias;
    }

    private static Tensor Parameter(nn.Module module, string name) => module.named_parameters().Single(p => p.name == name).parameter;

    private static double MaxDiff(Tensor a, Tensor b)
    {
        using var d = (a.detach() - b.detach()).abs().max();
        return d.item<float>();
    }

    [Fact]
    public void Tokens_outside_0_to_256_and_partial_patches_are_refused_by_name()
    {
        using var model = ToyData.Classifier();
        var cfg = model.Config;
        using var scope = NewDisposeScope();
        Tensor Ids(params long[] values) => tensor(values, ScalarType.Int64).reshape(1, -1);
        var good = Enumerable.Repeat(65L, 2 * cfg.PatchSize).ToArray();
        model.forward(Ids(good)).shape.Should().Equal([1, 2]);

        var high = (long[])good.Clone();
        high[0] = 257; // would read byte 0 of the next position's rows
        FluentActions.Invoking(() => model.forward(Ids(high))).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*patches*0..255*256*found 65..257*");
        var negative = (long[])good.Clone();
        negative[3] = -1;
        FluentActions.Invoking(() => model.forward(Ids(negative))).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*found -1..65*");
        FluentActions.Invoking(() => model.forward(Ids(good[..^1]))).Should().Throw<ArgumentException>().WithMessage($"*patches*PatchSize {cfg.PatchSize}*");
        var tooLong = Enumerable.Repeat(65L, (cfg.PatchLength + 1) * cfg.PatchSize).ToArray();
        FluentActions.Invoking(() => model.forward(Ids(tooLong))).Should().Throw<ArgumentException>().WithMessage("*PatchLength*");
    }

    [Fact]
    public void Under_another_threads_run_a_first_forward_leaves_the_generator_alone_and_sums_the_same()
    {
        using var reference = ToyData.Classifier(seed: 5);
        using var fresh = ToyData.Classifier(seed: 5);
        var tokens = Enumerable.Range(0, 3 * reference.Config.PatchSize).Select(i => (long)(i * 37 % 257)).ToArray();
        using var expected = reference.PatchDecoder.Embedding.forward(tensor(tokens).view(1, 3, -1)); // makes its bag
        reference.PatchDecoder.Embedding.HasSumModule.Should().BeTrue();

        using var holding = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var run = new Thread(() =>
        {
            using var scope = new Microsoft.ML.BGpt.Training.TorchSettingsScope(null); // a training run's turn
            holding.Set();
            release.Wait();
        });
        run.Start();
        holding.Wait();
        try
        {
            using var got = fresh.PatchDecoder.Embedding.forward(tensor(tokens).view(1, 3, -1));
            fresh.PatchDecoder.Embedding.HasSumModule.Should().BeFalse("making the module would reset the running thread's generator");
            got.sub(expected).abs().max().item<float>().Should().BeLessThan(1e-6f);
        }
        finally
        {
            release.Set();
            run.Join();
        }
        using var after = fresh.PatchDecoder.Embedding.forward(tensor(tokens).view(1, 3, -1));
        fresh.PatchDecoder.Embedding.HasSumModule.Should().BeTrue("with no run in progress the module is made");
    }
}


