using FluentAssertions;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Cli;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>bgpt pretrain / train / evaluate on a toy folder (label = sub-folder).</summary>
[Collection(Training.TorchGlobalState.Name)]
public class CliTrainingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgpt-cli-train-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        return (BGptCli.Run(args, o, e), o.ToString(), e.ToString());
    }

    [Fact]
    public void Pretrain_train_and_evaluate_from_the_shell()
    {
        var data = Path.Combine(_dir, "data");
        foreach (var (row, i) in TrainerTests.Toy(60, 11).Select((r, i) => (r, i)))
        {
            Directory.CreateDirectory(Path.Combine(data, row.Label));
            File.WriteAllBytes(Path.Combine(data, row.Label, $"f{i}.dat"), row.Bytes);
        }
        string[] shape = { "--patch-size", "4", "--patch-length", "16", "--hidden", "32", "--patch-layers", "1", "--byte-layers", "1" };
        var lm = Path.Combine(_dir, "lm.pth");
        var pretrain = Run(new[] { "pretrain", "--data", data, "--out", lm, "--epochs", "2", "--lr", "0.003" }.Concat(shape).ToArray());
        pretrain.Code.Should().Be(0, pretrain.Err);
        BGptCheckpoint.Load(lm).Kind.Should().Be(BGptCheckpointKind.LanguageModel);

        var zip = Path.Combine(_dir, "model.zip");
        File.WriteAllText(zip + ".tmp", "keep");
        var train = Run("train", "--data", data, "-w", lm, "--out", zip, "--epochs", "5", "--lr", "0.003", "--batch-size", "8");
        train.Code.Should().Be(0, train.Err);
        train.Out.Should().Contain("epoch 5").And.Contain("wrote");
        File.Exists(zip).Should().BeTrue();
        File.ReadAllText(zip + ".tmp").Should().Be("keep");

        var evaluate = Run("evaluate", "--model", zip, "--data", data);
        evaluate.Code.Should().Be(0, evaluate.Err);
        evaluate.Out.Should().Contain("accuracy:").And.Contain("digits, binary, text".Split(", ")[0]);
        var accuracy = double.Parse(evaluate.Out.Split('\n')[0].Split(':')[1].Trim().TrimEnd('%').Trim(), System.Globalization.CultureInfo.InvariantCulture);
        accuracy.Should().BeGreaterThan(80);

        Run("train", "--data", Path.Combine(_dir, "missing"), "--out", zip).Code.Should().NotBe(0);
    }

    [Fact]
    public void Pretrain_takes_a_flat_folder_of_unlabeled_files()
    {
        var data = Path.Combine(_dir, "flat");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "a.txt"), "the quick brown fox");
        File.WriteAllBytes(Path.Combine(data, "b.bin"), [1, 2, 3, 4, 5, 6, 7, 8]);
        var lm = Path.Combine(_dir, "flat.pth");
        var pretrain = Run("pretrain", "--data", data, "--out", lm, "--epochs", "1", "--batch-size", "2",
            "--patch-size", "4", "--patch-length", "16", "--hidden", "32", "--patch-layers", "1", "--byte-layers", "1", "--bigram-buckets", "64");
        pretrain.Code.Should().Be(0, pretrain.Err);
        var checkpoint = BGptCheckpoint.Load(lm);
        checkpoint.Kind.Should().Be(BGptCheckpointKind.LanguageModel);
        checkpoint.Config.BigramBuckets.Should().Be(64);
    }
}
