using FluentAssertions;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>Models from checkpoints: the original's loading rules and clear errors when they do not fit.</summary>
public class ModelCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgpt-model-ckpt-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_classifier_takes_only_the_patch_level_decoder_of_a_language_model()
    {
        var lmCheckpoint = BGptCheckpoint.Load(ReferenceFixtures.PathOf("lm.pth"));
        using var lm = BGptModels.LanguageModel(lmCheckpoint);
        using var classifier = BGptModels.ClassifierFromPretrained(lmCheckpoint, labels: 5);
        classifier.eval();
        classifier.LabelCount.Should().Be(5);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tokens = FixtureModels.Tokens(ReferenceFixtures.Ints("cases/05/tokens.npy"));
        var expected = lm.PatchDecoder.forward(tokens).mean(new long[] { 1 });
        var actual = classifier.Features(tokens);
        actual.allclose(expected, rtol: 0, atol: 1e-6).Should().BeTrue();
    }

    [Fact]
    public void A_checkpoint_that_does_not_match_the_model_names_the_tensor()
    {
        var weights = BGptCheckpoint.Load(ReferenceFixtures.PathOf("lm.pth")).Weights;
        using var wider = new BGptLMHeadModel(ReferenceFixtures.Config with { HiddenSize = 64, NumHeads = 1, InnerSize = 256 });
        var act = () => ModelWeights.Load(wider, weights, "lm.pth");
        act.Should().Throw<BGptCheckpointException>().Where(e => e.TensorKey != null && e.Message.Contains("lm.pth") && e.Message.Contains("[128"));

        var missing = weights.Where(kv => kv.Key != "patch_level_decoder.base.ln_f.bias").ToDictionary();
        using var model = new BGptLMHeadModel(ReferenceFixtures.Config);
        var act2 = () => ModelWeights.Load(model, missing, "partial.pth");
        act2.Should().Throw<BGptCheckpointException>().Where(e => e.TensorKey == "patch_level_decoder.base.ln_f.bias" && e.Message.Contains("missing"));

        var wrongKind = () => BGptModels.LoadLanguageModel(ReferenceFixtures.PathOf("cls.pth"));
        wrongKind.Should().Throw<BGptCheckpointException>().WithMessage("*cls.pth*classifier*");
    }

    [Theory]
    [InlineData(CheckpointFormat.TrainingCheckpoint, "cls.pth")]
    [InlineData(CheckpointFormat.StateDict, "cls.state.pth")]
    [InlineData(CheckpointFormat.Safetensors, "cls.safetensors")]
    public void A_trained_model_saved_in_each_format_loads_back_with_the_same_outputs(CheckpointFormat format, string name)
    {
        using var original = FixtureModels.Classifier();
        var path = Path.Combine(_dir, name);
        BGptModels.ToCheckpoint(original, new[] { "irish.abc", "noise.bin", "prose.txt" }).Save(path, format);
        using var loaded = BGptModels.LoadClassifier(path);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tokens = FixtureModels.Tokens(ReferenceFixtures.Ints("cases/07/tokens.npy"));
        loaded.forward(tokens).allclose(original.forward(tokens), rtol: 0, atol: 0).Should().BeTrue();
        if (format != CheckpointFormat.StateDict) // a bare state dict has nowhere to keep labels, as in the original
            BGptCheckpoint.Load(path).Labels.Should().Equal("irish.abc", "noise.bin", "prose.txt");
    }
}
