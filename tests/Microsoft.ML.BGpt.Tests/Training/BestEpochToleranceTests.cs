using FluentAssertions;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Training;
using Xunit;

namespace Microsoft.ML.BGpt.Tests.Training;

[Collection(TorchGlobalState.Name)]
public class BestEpochToleranceTests
{
    [Theory]
    // best 97.2 % of 141 files: Laplace p = 138.05 / 143, one standard error = 1.54 points.
    [InlineData(0.958, 0.972, 141, 1.0, true)]
    [InlineData(0.955, 0.972, 141, 1.0, false)]
    [InlineData(0.945, 0.972, 141, 2.0, true)]
    [InlineData(0.935, 0.972, 141, 2.0, false)]
    // A perfect score still has a standard error (0.70 points at 141 files), so it is not an exact-ties-only rule.
    [InlineData(0.9935, 1.0, 141, 1.0, true)]
    [InlineData(0.9920, 1.0, 141, 1.0, false)]
    [InlineData(0.972, 0.972, 141, 0.0, true)]
    [InlineData(0.971, 0.972, 141, 0.0, false)]
    public void Accuracy_within_k_standard_errors_of_the_best(double accuracy, double best, int count, double k, bool within) =>
        ClassifierObjective.IsWithinStandardErrors(accuracy, best, count, k).Should().Be(within);

    [Fact]
    public void Equal_validation_keeps_the_latest_epoch_with_a_tolerance_and_the_first_without()
    {
        // A learning rate far below float resolution: the weights, and so validation, never change.
        ClassifierTrainingOptions Options(double tolerance, string? checkpoint = null)
        {
            var o = ToyData.FastOptions(epochs: 4);
            o.LearningRate = 1e-12;
            o.EarlyStoppingPatience = 2;
            o.BestEpochTolerance = tolerance;
            o.CheckpointPath = checkpoint;
            return o;
        }
        var (train, validation) = (ToyData.Separable(8, 1), ToyData.Separable(4, 2));

        using (var initial = ToyData.Classifier())
        {
            var original = ClassifierTrainer.Train(train, validation, initial, Options(0));
            using var model = original.Model;
            original.BestEpoch.Should().Be(1, "the original keeps the first epoch of the highest accuracy");
            original.StoppedEarly.Should().BeTrue();
            original.History.Select(h => h.IsBest).Should().Equal(true, false, false);
        }

        var dir = ToyData.TempDir();
        try
        {
            string path = Path.Combine(dir, "cls.pth");
            using var initial = ToyData.Classifier();
            var tolerant = ClassifierTrainer.Train(train, validation, initial, Options(1, path));
            using var model = tolerant.Model;
            tolerant.BestEpoch.Should().Be(4);
            tolerant.StoppedEarly.Should().BeFalse("an epoch as good within noise counts as progress for the patience");
            tolerant.History.Should().OnlyContain(h => h.IsBest);
            var saved = BGptCheckpoint.Load(path);
            saved.BestEpoch.Should().Be(4);
            saved.MaxEvalAccuracy.Should().Be(tolerant.History.Max(h => h.ValidationAccuracy));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1e6)] // every later epoch is within it
    public void The_returned_model_holds_the_kept_epochs_weights(double tolerance)
    {
        var weights = new List<float[]>();
        var options = ToyData.FastOptions(epochs: 3);
        options.BestEpochTolerance = tolerance;
        options.AfterEpoch = (_, module) => weights.Add(ToyData.Weights(module));
        using var initial = ToyData.Classifier();
        var result = ClassifierTrainer.Train(ToyData.Separable(16, 1), ToyData.Separable(8, 2), initial, options);
        using var model = result.Model;
        var best = result.History.OrderByDescending(h => h.ValidationAccuracy).ThenBy(h => h.ValidationLoss).ThenBy(h => h.Epoch).First();
        result.BestEpoch.Should().Be(tolerance == 0 ? best.Epoch : 3);
        weights[2].Should().NotEqual(weights[0], "the weights moved between epochs");
        ToyData.Weights(model).Should().Equal(weights[result.BestEpoch - 1]);
    }

    [Fact]
    public void A_negative_tolerance_is_rejected_by_name()
    {
        var act = () => new ClassifierTrainingOptions { BestEpochTolerance = -1 }.Validate();
        act.Should().Throw<ArgumentException>().WithMessage("*BestEpochTolerance*");
    }
}
