using FluentAssertions;
using Microsoft.ML.BGpt.Checkpoints;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

public class BGptCheckpointTests
{
    private static readonly BGptCheckpoint Lm = BGptCheckpoint.Load(CheckpointFixtures.PathOf("lm.pth"));
    private static readonly BGptCheckpoint Cls = BGptCheckpoint.Load(CheckpointFixtures.PathOf("cls.pth"));

    [Fact]
    public void InfersTheReferenceConfiguration()
    {
        Lm.Kind.Should().Be(BGptCheckpointKind.LanguageModel);
        Lm.Config.Should().Be(new BGptConfig
        {
            PatchSize = 16, PatchLength = 32, HiddenSize = 128, PatchNumLayers = 2, ByteNumLayers = 1, NumHeads = 2, InnerSize = 512,
        });
        Cls.Kind.Should().Be(BGptCheckpointKind.Classifier);
        Cls.Config.PatchNumLayers.Should().Be(2);
        Cls.Config.HiddenSize.Should().Be(128);
        BGptCheckpoint.Load(CheckpointFixtures.PathOf("lm.state_dict.pth"), numHeads: 4).Config.NumHeads.Should().Be(4);
    }

    [Fact]
    public void TrainingCheckpointAndStateDictHoldTheSameWeights()
    {
        var bare = BGptCheckpoint.Load(CheckpointFixtures.PathOf("lm.state_dict.pth"));
        bare.Weights.Keys.Should().Equal(Lm.Weights.Keys);
        bare.Weights.Keys.Should().Equal(CheckpointFixtures.Tensors("lm.state_dict.pth").Select(t => t.Key));
        foreach (var (key, t) in Lm.Weights) t.ContentEquals(bare.Weights[key]).Should().BeTrue(key);
        bare.Optimizer.Should().BeNull();
        bare.Epoch.Should().BeNull();
    }

    [Fact]
    public void TiedByteEmbeddingsAreEqual()
    {
        var head = Lm.Weights["byte_level_decoder.base.lm_head.weight"];
        head.ContentEquals(Lm.Weights["byte_level_decoder.base.transformer.wte.weight"]).Should().BeTrue();
        head.Shape.Should().Equal(257, 128);
    }

    [Fact]
    public void TheTiedLmHeadStandsInForAMissingByteEmbedding()
    {
        const string wte = "byte_level_decoder.base.transformer.wte.weight", head = "byte_level_decoder.base.lm_head.weight";
        var slim = new BGptCheckpoint(Lm.Weights.Where(kv => kv.Key != wte));
        slim.Weights.Keys.Should().Equal(Lm.Weights.Keys);
        slim.Weights[wte].Should().BeSameAs(slim.Weights[head]);
    }

    [Fact]
    public void ReadsLabelsAndMetadata()
    {
        Cls.Labels.Should().Equal("irish.abc", "noise.bin", "prose.txt");
        Cls.MaxEvalAccuracy.Should().Be(0.5);
        Cls.Epoch.Should().NotBeNull();
        Lm.Labels.Should().BeNull();
        Lm.Epoch.Should().Be(1);
        Lm.BestEpoch.Should().Be(1);
        Lm.MinEvalLoss.Should().Be(CheckpointFixtures.Checkpoint("lm.pth").GetProperty("min_eval_loss").GetDouble());
        Lm.LearningRateScheduler.Should().BeOfType<PickleDict>();
    }

    [Fact]
    public void ResolvesOptimizerStateThroughParameterOrder()
    {
        var order = CheckpointFixtures.Checkpoint("lm.pth").GetProperty("optimizer_param_order").EnumerateArray().Select(e => e.GetString()!).ToList();
        var indices = CheckpointFixtures.Checkpoint("lm.pth").GetProperty("optimizer_state_indices").EnumerateArray().Select(e => e.GetInt32()).ToList();
        Lm.ParameterNames.Should().Equal(order);
        Lm.Optimizer!.Parameters.Keys.Should().Equal(indices.Select(i => order[i]));
        Lm.Optimizer.Parameters.Should().HaveCount(45);
        Lm.Optimizer.Parameters.Should().NotContainKey("patch_level_decoder.base.wte.weight", "it never gets a gradient");
        var s = Lm.Optimizer.Parameters["patch_level_decoder.base.h.1.mlp.c_fc.weight"];
        s.Step.Should().Be(1);
        s.ExpAvg.Shape.Should().Equal(128, 512);
        s.ExpAvgSq.ToFloatArray().Should().OnlyContain(v => v >= 0);
        Lm.Optimizer.LearningRate.Should().Be(1e-4);

        var clsOrder = CheckpointFixtures.Checkpoint("cls.pth").GetProperty("optimizer_param_order").EnumerateArray().Select(e => e.GetString()!);
        Cls.ParameterNames.Should().Equal(clsOrder);
        Cls.Optimizer!.Parameters.Should().HaveCount(31);
        Cls.Optimizer.Parameters.Keys.Should().Contain("classifier.weight").And.NotContain("patch_level_decoder.base.wte.weight");
        Cls.Optimizer.LearningRate.Should().Be(1e-5);
    }

    [Fact]
    public void ClassifierFromLanguageModelTakesThePatchLevelDecoder()
    {
        var cls = Lm.ToClassifier(["a", "b"], seed: 1);
        cls.Kind.Should().Be(BGptCheckpointKind.Classifier);
        cls.Labels.Should().Equal("a", "b");
        cls.Weights["classifier.weight"].Shape.Should().Equal(2, 128);
        cls.Weights.Keys.Should().NotContain(k => k.StartsWith("byte_level_decoder"));
        foreach (var (key, t) in Cls.Weights.Where(kv => kv.Key.StartsWith("patch_level_decoder")))
            t.ContentEquals(cls.Weights[key]).Should().BeTrue(key + " (cls.pth's patch decoder is the LM's)");
        var bound = 1 / MathF.Sqrt(128);
        cls.Weights["classifier.bias"].ToFloatArray().Should().OnlyContain(v => Math.Abs(v) <= bound);
    }
}
