using FluentAssertions;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Training;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests.Training;

[Collection(TorchGlobalState.Name)]
public class BudgetAndSamplingTests(ITestOutputHelper output)
{
    [Fact]
    public void A_time_budget_cuts_the_epochs()
    {
        var train = ToyData.Separable(8, seed: 3);
        var lrs = new List<(int Epoch, double Lr)>();
        var options = new ClassifierTrainingOptions
        {
            Epochs = 50, BatchSize = 4, LearningRate = 1e-3, Threads = 1, EarlyStoppingPatience = 0, ValidationFraction = 0.25,
            WarmupFraction = 0, MaxTrainingTime = TimeSpan.FromTicks(1),
        };
        var result = ClassifierTrainer.Train(train, null, 2, ToyData.Tiny, null, options, new ToyData.SyncProgress(p => lrs.Add((p.Epoch, p.LearningRate))));
        using var _ = result.Model;
        result.History.Should().HaveCount(1, "no second epoch fits a one-tick budget");
        output.WriteLine(string.Join(", ", lrs.Select(l => $"{l.Epoch}:{l.Lr:G3}")));

        options.MaxTrainingTime = TimeSpan.FromHours(1);
        options.Epochs = 3;
        var unlimited = ClassifierTrainer.Train(train, null, 2, ToyData.Tiny, null, options);
        using var __ = unlimited.Model;
        unlimited.History.Should().HaveCount(3, "a generous budget keeps every epoch");
    }

    [Fact]
    public void Under_a_time_budget_the_learning_rate_follows_the_time_and_never_rises_after_warm_up()
    {
        var train = ToyData.Separable(8, seed: 4);
        var lrs = new List<double>();
        var options = new ClassifierTrainingOptions
        {
            Epochs = 100_000, BatchSize = 4, LearningRate = 1e-3, Threads = 1, EarlyStoppingPatience = 0, ValidationFraction = 0.25,
            WarmupFraction = 0.1, MaxTrainingTime = TimeSpan.FromSeconds(2),
        };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = ClassifierTrainer.Train(train, null, 2, ToyData.Tiny, null, options, new ToyData.SyncProgress(p => lrs.Add(p.LearningRate)));
        using var _ = result.Model;
        output.WriteLine($"{result.History.Count} epochs, {lrs.Count} steps in {clock.Elapsed.TotalSeconds:F2} s; last lr {lrs[^1]:G3}");
        result.History.Count.Should().BeGreaterThan(3).And.BeLessThan(options.Epochs, "the budget, not the epoch bound, ends the run");
        int peak = lrs.IndexOf(lrs.Max());
        lrs[peak].Should().BeApproximately(1e-3, 1e-4);
        lrs.Skip(peak).Should().BeInDescendingOrder("a speed change re-plans the epochs, never the learning rate upwards");
        lrs[^1].Should().BeLessThan(0.1 * lrs[peak], "the run ends close to its deadline, where the cosine reaches 0");
    }

    [Theory]
    [InlineData(100, 30, 1, 30, 3)]   // 30 s per epoch, 70 s left: two more
    [InlineData(100, 60, 2, 20, 4)]   // a slow first epoch (40 s), then 20 s: 40 s left is two more, not one
    [InlineData(100, 50, 2, 40, 3)]   // slowing down: 50 s left at 40 s per epoch is one more
    [InlineData(100, 120, 4, 30, 4)]  // over budget: stop at the epoch just finished
    public void Epochs_that_fit_use_the_latest_epoch_time(int budget, int elapsed, int epoch, double last, int expected) =>
        TrainingLoop.EpochsThatFit(TimeSpan.FromSeconds(budget), TimeSpan.FromSeconds(elapsed), epoch, last).Should().Be(expected);

    [Fact]
    public void Patch_sampling_scores_a_subset_and_equals_the_full_loss_when_it_covers_every_patch()
    {
        manual_seed(7);
        using var model = new BGptLMHeadModel(ToyData.Tiny);
        model.eval();
        var file = ToyData.Repetitive(1, seed: 9)[0];
        using var scope = NewDisposeScope();
        var tokens = tensor(ByteEncoder.Encode(file.Content.Span, file.Extension.Span, ToyData.Tiny).Select(b => (long)b).ToArray()).unsqueeze(0); // [1, N * P]
        long predicted = tokens.shape[1] / ToyData.Tiny.PatchSize - 1;
        using var _ = no_grad();
        float full = model.Loss(tokens).item<float>();
        float all = model.Loss(tokens, null, (int)predicted).item<float>();
        manual_seed(1);
        float some = model.Loss(tokens, null, 2).item<float>();
        manual_seed(1);
        float again = model.Loss(tokens, null, 2).item<float>();
        output.WriteLine($"full {full} all {all} sampled {some}");
        all.Should().Be(full);
        some.Should().NotBe(full);
        again.Should().Be(some, "the draw comes from torch's seeded generator");
    }
}
