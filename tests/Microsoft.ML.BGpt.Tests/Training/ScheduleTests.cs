using FluentAssertions;
using Microsoft.ML.BGpt.Training;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.BGpt.Tests.Training;

[Collection(TorchGlobalState.Name)]
public class ScheduleTests(ITestOutputHelper output)
{
    [Fact]
    public void Warmup_rises_linearly_then_cosine_decays_towards_zero()
    {
        var s = new CosineSchedule(1e-3, 0.2, 10);
        var lr = Enumerable.Range(0, 10).Select(s.At).ToArray();
        output.WriteLine(string.Join(", ", lr.Select(x => x.ToString("G3"))));
        s.WarmupSteps.Should().Be(2);
        lr[0].Should().BeApproximately(5e-4, 1e-12);
        lr[1].Should().BeApproximately(1e-3, 1e-12);
        lr[2].Should().BeApproximately(1e-3, 1e-12, "the cosine starts at the peak");
        lr.Skip(2).Should().BeInDescendingOrder();
        lr[9].Should().BeApproximately(1e-3 * 0.5 * (1 + Math.Cos(Math.PI * 7 / 8)), 1e-12);
        new CosineSchedule(1e-3, 0, 4).At(0).Should().Be(1e-3, "no warm-up starts at the peak");
    }

    [Fact]
    public void The_schedule_by_fraction_of_the_run_warms_up_peaks_and_ends_at_zero()
    {
        var s = new CosineSchedule(1e-3, 0.1, 1000);
        s.AtFraction(0.05).Should().BeApproximately(5e-4, 1e-12);
        s.AtFraction(0.1).Should().BeApproximately(1e-3, 1e-12);
        s.AtFraction(0.55).Should().BeApproximately(5e-4, 1e-12, "half-way through the cosine");
        s.AtFraction(1).Should().BeApproximately(0, 1e-15);
        s.AtFraction(1.5).Should().Be(0, "past the end of the budget");
        s.AtFraction(0).Should().BeGreaterThan(0, "the first step already learns");
        var decay = Enumerable.Range(10, 91).Select(i => s.AtFraction(i / 100.0)).ToArray();
        decay.Should().BeInDescendingOrder();
        new CosineSchedule(1e-3, 0, 10).AtFraction(0).Should().Be(1e-3, "no warm-up starts at the peak");
    }

    [Fact]
    public void The_optimizer_really_uses_the_schedule()
    {
        var train = ToyData.Separable(8, seed: 6);
        (List<TrainingProgress> Reports, float[] Weights) Run(double warmup, double lr, int epochs = 2, TimeSpan? budget = null)
        {
            var options = ToyData.FastOptions(epochs);
            options.MaxTrainingTime = budget;
            options.BatchSize = 2;
            options.ValidationFraction = 0;
            options.WarmupFraction = warmup;
            options.LearningRate = lr;
            var progress = ToyData.Recorder();
            using var initial = ToyData.Classifier();
            using var model = ClassifierTrainer.Train(train, null, initial, options, progress).Model;
            return (progress.Reports, ToyData.Weights(model));
        }

        var (reports, withWarmup) = Run(0.5, 1e-3);
        var expected = new CosineSchedule(1e-3, 0.5, 8);
        reports.Select(r => r.LearningRate).Should().Equal(Enumerable.Range(0, 8).Select(expected.At));
        output.WriteLine("lr: " + string.Join(", ", reports.Select(r => r.LearningRate.ToString("G3"))));
        // A time budget that never binds follows the same steps (it used to run one step ahead and end at 0).
        var (timed, _) = Run(0.5, 1e-3, budget: TimeSpan.FromHours(1));
        timed.Select(r => r.LearningRate).Zip(Enumerable.Range(0, 8).Select(expected.At)).Should().OnlyContain(p => Math.Abs(p.First - p.Second) < 1e-15);

        // In the original the schedule never reaches the optimizer, so the warm-up changed nothing; here it must.
        var (_, noWarmup) = Run(0.0, 1e-3);
        noWarmup.Should().NotEqual(withWarmup);
        var (_, again) = Run(0.5, 1e-3);
        again.Should().Equal(withWarmup);
    }

    [Fact]
    public void The_first_step_moves_weights_by_about_the_scheduled_rate()
    {
        // Adam's first update is lr * g / (|g| + eps), so a bias moves by almost exactly the learning rate.
        var train = ToyData.Separable(4, seed: 7);
        double FirstStepChange(double lr)
        {
            var options = ToyData.FastOptions(epochs: 1);
            options.BatchSize = 4;
            options.ValidationFraction = 0;
            options.WeightDecay = 0;
            options.MaxGradNorm = 0;
            options.LearningRate = lr;
            using var initial = ToyData.Classifier();
            using var model = ClassifierTrainer.Train(train, null, initial, options).Model;
            var before = Microsoft.ML.BGpt.Modeling.ModelWeights.Export(initial)["classifier.bias"].ToFloatArray();
            var after = Microsoft.ML.BGpt.Modeling.ModelWeights.Export(model)["classifier.bias"].ToFloatArray();
            return before.Zip(after, (a, b) => Math.Abs(a - b)).Max();
        }

        FirstStepChange(1e-3).Should().BeApproximately(1e-3, 1e-5);
        FirstStepChange(1e-2).Should().BeApproximately(1e-2, 1e-4);
    }
}
