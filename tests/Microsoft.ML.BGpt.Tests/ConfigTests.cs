using FluentAssertions;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

public class ConfigTests
{
    [Fact]
    public void Defaults_are_the_papers()
    {
        var c = BGptConfig.Default.Validate();
        (c.PatchSize, c.PatchLength, c.HiddenSize, c.PatchNumLayers, c.ByteNumLayers, c.NumHeads, c.VocabSize, c.InnerSize)
            .Should().Be((16, 512, 768, 12, 3, 12, 257, 3072));
        c.MaxTokens.Should().Be(8192);
    }

    [Fact]
    public void Create_derives_heads_and_inner_size_like_the_original() =>
        BGptConfig.Create(hiddenSize: 128).Should().Match<BGptConfig>(c => c.NumHeads == 2 && c.InnerSize == 512);

    [Theory]
    [InlineData(0, 512, 768, 12, "PatchSize")]
    [InlineData(16, 1, 768, 12, "PatchLength")]
    [InlineData(16, 512, 768, 7, "NumHeads")]
    [InlineData(16, 512, 0, 12, "HiddenSize")]
    public void Invalid_settings_are_named(int patchSize, int patchLength, int hidden, int heads, string name)
    {
        var config = new BGptConfig { PatchSize = patchSize, PatchLength = patchLength, HiddenSize = hidden, NumHeads = heads };
        config.Invoking(c => c.Validate()).Should().Throw<ArgumentException>().WithMessage($"*BGptConfig.{name}*");
    }
}
