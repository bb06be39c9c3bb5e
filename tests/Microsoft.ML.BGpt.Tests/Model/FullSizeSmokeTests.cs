using FluentAssertions;
using Microsoft.ML.BGpt.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests;

public class FullSizeSmokeTests
{
    /// <summary>Parameters of the original, counted from GPT-2's layout rather than from our modules.</summary>
    private static long ExpectedParameters(BGptConfig c, bool lm, int labels = 0)
    {
        long h = c.HiddenSize, inner = c.InnerSize;
        long block = 2 * 2 * h + (h * 3 * h + 3 * h) + (h * h + h) + (h * inner + inner) + (inner * h + h);
        long patch = (c.PatchInputSize * h + h) + 1 * h + c.PatchLength * h + c.PatchNumLayers * block + 2 * h;
        long bytes = 257 * h + (c.PatchSize + 1) * h + c.ByteNumLayers * block + 2 * h; // lm_head is tied to wte
        return patch + (lm ? bytes : h * labels + labels);
    }

    [Fact]
    public void The_papers_configuration_has_110M_parameters_and_runs_an_8KB_forward()
    {
        var config = BGptConfig.Default;
        using var model = new BGptLMHeadModel(config);
        long count = model.parameters().Sum(p => p.numel());
        count.Should().Be(ExpectedParameters(config, lm: true));
        count.Should().BeInRange(100_000_000, 120_000_000);

        using var classifier = new BGptClassifier(config, 10);
        classifier.parameters().Sum(p => p.numel()).Should().Be(ExpectedParameters(config, lm: false, labels: 10));

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        model.eval();
        var content = Enumerable.Range(0, 8192).Select(i => (byte)(i * 31)).ToArray();
        var tokens = ByteEncoder.Encode(content, "bin"u8, config);
        tokens.Should().HaveCount(512 * 16, "8 KB plus two patches is cut to the 512-patch budget");
        var input = FixtureModels.Tokens(tokens);
        var hidden = model.PatchDecoder.forward(input);
        hidden.shape.Should().Equal(1, 512, 768);
        float.IsFinite(hidden.abs().max().item<float>()).Should().BeTrue();
        classifier.eval();
        classifier.forward(input).shape.Should().Equal(1, 10);
    }
}
