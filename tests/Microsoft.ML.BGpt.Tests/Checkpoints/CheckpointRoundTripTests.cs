using FluentAssertions;
using Microsoft.ML.BGpt.Checkpoints;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

public class CheckpointRoundTripTests
{
    [Theory]
    [InlineData("lm.pth")]
    [InlineData("cls.pth")]
    [InlineData("cls_after_step.state_dict.pth")]
    public void GenericTreeSurvivesWriteAndRead(string file)
    {
        var original = PthReader.Read(CheckpointFixtures.PathOf(file));
        var path = Path.Combine(CheckpointFixtures.TempDir(), file);
        PthWriter.Write(path, original);
        AssertTreesEqual(PthReader.Read(path), original, "root");
    }

    [Theory]
    [InlineData("lm.pth", CheckpointFormat.TrainingCheckpoint)]
    [InlineData("lm.pth", CheckpointFormat.StateDict)]
    [InlineData("lm.pth", CheckpointFormat.Safetensors)]
    [InlineData("cls.pth", CheckpointFormat.TrainingCheckpoint)]
    [InlineData("cls.pth", CheckpointFormat.Safetensors)]
    public void CheckpointSurvivesSaveAndLoad(string file, CheckpointFormat format)
    {
        var original = BGptCheckpoint.Load(CheckpointFixtures.PathOf(file));
        var path = Path.Combine(CheckpointFixtures.TempDir(), format == CheckpointFormat.Safetensors ? "model.safetensors" : "model.pth");
        original.Save(path, format);
        var loaded = BGptCheckpoint.Load(path);

        loaded.Kind.Should().Be(original.Kind);
        loaded.Config.Should().Be(original.Config);
        loaded.Labels.Should().BeEquivalentTo(original.Labels, o => o.WithStrictOrdering());
        loaded.Weights.Keys.Should().Equal(original.Weights.Keys);
        foreach (var (key, t) in original.Weights) loaded.Weights[key].ContentEquals(t).Should().BeTrue(key);
        if (format == CheckpointFormat.StateDict) return;
        loaded.Epoch.Should().Be(original.Epoch);
        loaded.MinEvalLoss.Should().Be(original.MinEvalLoss);
        loaded.MaxEvalAccuracy.Should().Be(original.MaxEvalAccuracy);
        if (format != CheckpointFormat.TrainingCheckpoint) return;
        loaded.Optimizer!.Parameters.Keys.Should().Equal(original.Optimizer!.Parameters.Keys);
        foreach (var (key, s) in original.Optimizer.Parameters)
        {
            var l = loaded.Optimizer.Parameters[key];
            l.Step.Should().Be(s.Step);
            l.ExpAvg.ContentEquals(s.ExpAvg).Should().BeTrue(key);
            l.ExpAvgSq.ContentEquals(s.ExpAvgSq).Should().BeTrue(key);
        }
        AssertTreesEqual(loaded.Optimizer.ParamGroups[0], original.Optimizer.ParamGroups[0], "param_groups[0]");
    }

    [Fact]
    public void StateDictGetsBuffersAndTiedWeightsEvenWhenMissingInMemory()
    {
        var full = BGptCheckpoint.Load(CheckpointFixtures.PathOf("lm.state_dict.pth"));
        var slim = new BGptCheckpoint(full.Weights.Where(kv =>
            !kv.Key.EndsWith(".attn.bias") && !kv.Key.EndsWith(".attn.masked_bias")
            && kv.Key != "patch_level_decoder.base.wte.weight" && kv.Key != "byte_level_decoder.base.lm_head.weight"));
        var dir = CheckpointFixtures.TempDir();
        slim.Save(Path.Combine(dir, "slim.pth"), CheckpointFormat.StateDict);
        var tree = (PickleDict)PthReader.Read(Path.Combine(dir, "slim.pth"))!;
        var reference = (PickleDict)PthReader.Read(CheckpointFixtures.PathOf("lm.state_dict.pth"))!;
        tree.Keys.Should().Equal(reference.Keys);
        foreach (var (key, t) in reference)
            if (key is not "patch_level_decoder.base.wte.weight")
                ((TensorData)tree[key]!).ContentEquals((TensorData)t!).Should().BeTrue(key.ToString());
    }

    [Fact]
    public void SavingReplacesAnExistingFileAndLeavesNoTemporaries()
    {
        var dir = CheckpointFixtures.TempDir();
        var path = Path.Combine(dir, "cls.pth");
        File.WriteAllText(path, "old");
        BGptCheckpoint.Load(CheckpointFixtures.PathOf("cls.pth")).Save(path, CheckpointFormat.StateDict);
        BGptCheckpoint.Load(path).Kind.Should().Be(BGptCheckpointKind.Classifier);
        Directory.GetFiles(dir).Should().ContainSingle();
    }

    [Fact]
    public void SafetensorsKeepsMetadataAndDtypes()
    {
        var path = Path.Combine(CheckpointFixtures.TempDir(), "t.safetensors");
        var tensors = new Dictionary<string, TensorData>
        {
            ["a"] = TensorData.FromFloats([1, 2, 3, 4, 5, 6], [2, 3]),
            ["mask"] = new TensorData(TensorDType.UInt8, [2, 2], [1, 0, 1, 1]),
            ["scalar"] = new TensorData(TensorDType.Int64, [], BitConverter.GetBytes(7L)),
        };
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["k"] = "v" });
        var back = SafetensorsReader.Read(path);
        back.Metadata["k"].Should().Be("v");
        back.Tensors.Keys.Should().Equal("a", "mask", "scalar");
        foreach (var (key, t) in tensors) back.Tensors[key].ContentEquals(t).Should().BeTrue(key);
        (BitConverter.ToInt64(File.ReadAllBytes(path), 0) % 8).Should().Be(0, "the header is padded to 8 bytes");
    }

    internal static void AssertTreesEqual(object? actual, object? expected, string path)
    {
        switch (expected)
        {
            case TensorData t:
                actual.Should().BeOfType<TensorData>(path);
                ((TensorData)actual!).ContentEquals(t).Should().BeTrue(path);
                break;
            case PickleDict d:
                var a = actual.Should().BeOfType<PickleDict>(path).Subject;
                a.IsOrderedDict.Should().Be(d.IsOrderedDict, path);
                a.Keys.Should().Equal(d.Keys, path);
                foreach (var (k, v) in d) AssertTreesEqual(a[k], v, $"{path}/{k}");
                break;
            case List<object?> l:
                var al = actual.Should().BeOfType<List<object?>>(path).Subject;
                al.Should().HaveCount(l.Count, path);
                for (int i = 0; i < l.Count; i++) AssertTreesEqual(al[i], l[i], $"{path}[{i}]");
                break;
            case object?[] tuple:
                var at = actual.Should().BeOfType<object?[]>(path).Subject;
                at.Should().HaveCount(tuple.Length, path);
                for (int i = 0; i < tuple.Length; i++) AssertTreesEqual(at[i], tuple[i], $"{path}({i})");
                break;
            default:
                actual.Should().Be(expected, path);
                break;
        }
    }
}
