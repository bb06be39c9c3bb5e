using FluentAssertions;
using Microsoft.ML.BGpt.Modeling;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>Greedy generation with KV caches against the original's generate() (which recomputes everything).</summary>
public class GenerationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("generate_mode")]
    [InlineData("convert_mode")]
    [InlineData("partial_patch_prefix")]
    public void Greedy_generation_gives_the_original_bytes_and_step_probabilities(string id)
    {
        var spec = ReferenceFixtures.Manifest.GetProperty("generation").EnumerateArray().Single(g => g.GetProperty("id").GetString() == id);
        var prefix = ReferenceFixtures.Ints($"generation/{id}/prefix.npy");
        int calls = spec.GetProperty("max_generate_calls").GetInt32();
        var expected = spec.GetProperty("output_bytes").EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray();

        using var model = FixtureModels.LanguageModel();
        var steps = new List<float[]>();
        var generator = new BGptGenerator(model) { OnStepProbabilities = steps.Add };
        var bytes = generator.Generate(prefix, SamplingOptions.Greedy, new Random(0), maxPatches: calls);
        bytes.Should().Equal(expected);

        var reference = Enumerable.Range(0, calls).SelectMany(c => ReferenceFixtures.Floats($"generation/{id}/call{c}_step_probs.npy")).ToArray();
        var actual = steps.SelectMany(s => s).ToArray();
        actual.Should().HaveCount(reference.Length);
        double max = actual.Zip(reference, (a, r) => Math.Abs(a - r)).Max();
        max.Should().BeLessThan(1e-5);
        output.WriteLine($"{id}: {bytes.Length} bytes equal; step probabilities max abs error {max:E2}");
    }

    [Fact]
    public void Sampling_is_reproducible_with_a_seed_and_respects_top_k()
    {
        using var model = FixtureModels.LanguageModel();
        var prefix = ReferenceFixtures.Ints("generation/generate_mode/prefix.npy");
        var options = new SamplingOptions { TopK = 5, TopP = 0.9, Temperature = 1.3 };
        var a = new BGptGenerator(model).Generate(prefix, options, new Random(42), maxPatches: 3);
        var b = new BGptGenerator(model).Generate(prefix, options, new Random(42), maxPatches: 3);
        a.Should().Equal(b);

        var steps = new List<float[]>();
        var chosen = new BGptGenerator(model) { OnStepProbabilities = steps.Add }.Generate(prefix, new SamplingOptions { TopK = 2 }, new Random(7), maxPatches: 2);
        for (int i = 0; i < chosen.Length; i++)
        {
            var top2 = steps[i].Select((p, j) => (p, j)).OrderByDescending(x => x.p).Take(2).Select(x => x.j);
            top2.Should().Contain(chosen[i]);
        }
    }

    [Fact]
    public void Low_temperatures_sharpen_towards_the_most_likely_byte_instead_of_failing()
    {
        var flat = Enumerable.Repeat(1f / 257, 257).ToArray();
        flat[42] = 2f / 257; // one byte twice as likely as the rest
        var cold = new SamplingOptions { Temperature = 0.005 };
        // (1/257)^200 underflows to 0; relative to the largest probability the distribution is all but one-hot.
        Enumerable.Range(0, 20).Select(seed => Microsoft.ML.BGpt.Modeling.Sampler.Sample(flat, cold, new Random(seed))).Should().OnlyContain(b => b == 42);
        var uniform = Enumerable.Repeat(1f / 257, 257).ToArray();
        Microsoft.ML.BGpt.Modeling.Sampler.Sample(uniform, cold, new Random(3)).Should().BeInRange(0, 256, "ties stay sampleable");
    }

    [Fact]
    public void One_patch_is_generated_in_eval_mode_and_a_full_context_is_refused()
    {
        using var model = FixtureModels.LanguageModel();
        model.train(); // left in training mode by the caller: dropout must not reach the draws
        var generator = new BGptGenerator(model);
        TorchSharp.torch.manual_seed(3);
        using var feature = TorchSharp.torch.randn(model.Config.HiddenSize);
        var options = new SamplingOptions { TopK = 0, TopP = 1, Temperature = 1 };
        var first = generator.GeneratePatch(feature, [65, 66], options, new Random(1));
        var second = generator.GeneratePatch(feature, [65, 66], options, new Random(1));
        second.Should().Equal(first);
        model.training.Should().BeTrue("the caller's mode is put back");
        var full = Enumerable.Repeat(65, model.Config.PatchSize).ToArray();
        FluentActions.Invoking(() => generator.GeneratePatch(feature, full, options, new Random(1))).Should().Throw<ArgumentException>().WithMessage("*context*nothing to generate*");
        FluentActions.Invoking(() => generator.GeneratePatch(feature, [65, 300], options, new Random(1))).Should().Throw<ArgumentException>().WithMessage("*token 1 is 300*");
    }
}


