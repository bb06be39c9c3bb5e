using FluentAssertions;
using Microsoft.ML.BGpt.Training;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.BGpt.Tests.Training;

[Collection(TorchGlobalState.Name)]
public class ClassifierTrainerTests(ITestOutputHelper output)
{
    [Fact]
    public void Training_lowers_the_loss_and_separates_the_toy_classes()
    {
        using var initial = ToyData.Classifier();
        var train = ToyData.Separable(32, seed: 1);
        var validation = ToyData.Separable(16, seed: 2);
        var before = ClassifierTrainer.Evaluate(initial, validation);
        var progress = ToyData.Recorder();

        var result = ClassifierTrainer.Train(train, validation, initial, ToyData.FastOptions(epochs: 6), progress);
        using var model = result.Model;

        foreach (var e in result.History)
            output.WriteLine($"epoch {e.Epoch}: train {e.TrainLoss:F4} val {e.ValidationLoss:F4} acc {e.ValidationAccuracy:P0} {e.Seconds:F2}s {e.BytesPerSecond:F0} B/s best={e.IsBest}");
        output.WriteLine($"before: val loss {before.Loss:F4} acc {before.Accuracy:P0}; {progress.Reports.Count} steps");
        result.History.Should().HaveCount(6);
        result.History[^1].TrainLoss.Should().BeLessThan(result.History[0].TrainLoss * 0.5);
        var after = ClassifierTrainer.Evaluate(model, validation);
        after.Loss.Should().BeLessThan(before.Loss * 0.5);
        after.Accuracy.Should().BeGreaterThanOrEqualTo(0.9);
        ClassifierTrainer.Evaluate(model, train).Accuracy.Should().BeGreaterThanOrEqualTo(0.9);
        model.training.Should().BeFalse("the result is in eval mode");
        progress.Reports.Should().HaveCount(6 * 8);
        progress.Reports[^1].Step.Should().Be(48);
        progress.Reports[^1].TotalSteps.Should().Be(48);
    }

    [Fact]
    public void The_initial_model_is_left_unchanged()
    {
        using var initial = ToyData.Classifier();
        var before = ToyData.Weights(initial);
        using var model = ClassifierTrainer.Train(ToyData.Separable(8, 1), null, initial, ToyData.FastOptions(epochs: 1)).Model;
        ToyData.Weights(initial).Should().Equal(before);
        ToyData.Weights(model).Should().NotEqual(before);
    }

    [Fact]
    public void Same_seed_gives_identical_weights_and_another_seed_does_not()
    {
        var train = ToyData.Separable(12, seed: 3);
        float[] Run(int seed)
        {
            var options = ToyData.FastOptions(epochs: 2);
            options.Seed = seed;
            options.ValidationFraction = 0.25;
            using var model = ClassifierTrainer.Train(train, null, 2, ToyData.Tiny, null, options).Model;
            return ToyData.Weights(model);
        }

        var a = Run(7);
        Run(7).Should().Equal(a, "the same seed and data must give a bit-identical model");
        Run(8).Should().NotEqual(a);
    }

    [Fact]
    public async Task Two_runs_on_two_threads_give_the_models_they_give_alone_and_restore_the_thread_count()
    {
        // The thread count and the generator that seeds dropout are process-wide: without taking turns, one run
        // reseeds the other's dropout mid-epoch and restores a thread count the other set.
        var train = ToyData.Separable(24, seed: 5);
        float[] Run(int seed, IProgress<TrainingProgress>? progress = null)
        {
            var options = ToyData.FastOptions(epochs: 4);
            options.Seed = seed;
            options.Dropout = 0.2;
            using var model = ClassifierTrainer.Train(train, null, 2, ToyData.Tiny, null, options, progress).Model;
            return ToyData.Weights(model);
        }
        // The first run waits after its first step until the second has made one too (or 1 s has passed: with turns
        // taken, the second cannot start), so unless they take turns the two runs share the generator mid-epoch.
        using var secondStarted = new ManualResetEventSlim();
        var first = new ToyData.SyncProgress(p => { if (p.Step == 1) secondStarted.Wait(TimeSpan.FromSeconds(1)); });
        var second = new ToyData.SyncProgress(_ => secondStarted.Set());

        // libtorch's OpenMP keeps a copy per OS thread, taken from the process-wide value on first use: read it on a new one.
        int before = TorchSharp.torch.get_num_threads();
        TorchSharp.torch.set_num_threads(2); // the runs set 1, so a wrong restore shows
        try
        {
            var alone = new[] { Run(7), Run(8) };
            var runFirst = Task.Run(() => Run(7, first));
            while (first.Reports.Count == 0 && !runFirst.IsCompleted) Thread.Sleep(1);
            var together = await Task.WhenAll(runFirst, Task.Run(() => Run(8, second)));
            together[0].Should().Equal(alone[0], "a run on another thread must not shift this run's dropout masks");
            together[1].Should().Equal(alone[1]);
            TorchSettingsScope.ProcessThreads().Should().Be(2, "both runs put back the thread count they found");
        }
        finally
        {
            TorchSharp.torch.set_num_threads(before);
        }
    }

    [Fact]
    public void A_run_on_a_thread_with_an_old_thread_count_leaves_the_process_count_alone()
    {
        int before = TorchSettingsScope.ProcessThreads();
        try
        {
            TorchSharp.torch.set_num_threads(2);
            using var ready = new ManualResetEventSlim();
            using var go = new ManualResetEventSlim();
            Exception? failure = null;
            var worker = new Thread(() =>
            {
                try
                {
                    TorchSharp.torch.get_num_threads(); // this thread's copy: 2
                    ready.Set();
                    go.Wait();
                    foreach (int? threads in new int?[] { null, 1 })
                    {
                        var options = ToyData.FastOptions(epochs: 1);
                        options.Threads = threads;
                        using var initial = ToyData.Classifier();
                        ClassifierTrainer.Train(ToyData.Separable(8, 3), null, initial, options).Model.Dispose();
                    }
                }
                catch (Exception e) { failure = e; }
            });
            worker.Start();
            ready.Wait();
            TorchSharp.torch.set_num_threads(3); // the process moves on; the worker's copy still says 2
            go.Set();
            worker.Join();
            failure.Should().BeNull();
            TorchSettingsScope.ProcessThreads().Should().Be(3, "a run without Threads changes nothing, and one with Threads restores the process's count");
        }
        finally
        {
            TorchSharp.torch.set_num_threads(before);
        }
    }

    [Fact]
    public void Batches_with_masks_give_the_batch_1_validation_loss()
    {
        using var model = ToyData.Classifier();
        model.eval();
        var examples = ToyData.Separable(10, seed: 4); // lengths 5..90 bytes: 3 to 16 patches, so real padding
        var one = ClassifierTrainer.Evaluate(model, examples, batchSize: 1);
        var four = ClassifierTrainer.Evaluate(model, examples, batchSize: 4);
        var all = ClassifierTrainer.Evaluate(model, examples, batchSize: 10);
        output.WriteLine($"batch 1: {one.Loss:R}; batch 4: {four.Loss:R}; batch 10: {all.Loss:R}");
        four.Loss.Should().BeApproximately(one.Loss, 1e-5);
        all.Loss.Should().BeApproximately(one.Loss, 1e-5);
        four.Accuracy.Should().Be(one.Accuracy);

        // The original's path: one file, no mask, every patch averaged.
        double sum = 0;
        foreach (var e in examples)
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            var tokens = ByteEncoder.Encode(e.Content.Span, e.Extension.Span, ToyData.Tiny);
            using var _ = TorchSharp.torch.no_grad();
            var logits = model.forward(TorchSharp.torch.tensor(tokens.Select(t => (long)t).ToArray(), new long[] { 1, tokens.Length }));
            sum += TorchSharp.torch.nn.functional.cross_entropy(logits, TorchSharp.torch.tensor(new long[] { e.Label })).item<float>();
        }
        (sum / examples.Count).Should().BeApproximately(one.Loss, 1e-5);
    }

    [Fact]
    public void Class_weights_change_the_loss_and_equal_weights_do_not()
    {
        var train = ToyData.Separable(8, seed: 5).Take(7).ToList(); // 4 of class 0, 3 of class 1
        double FirstLoss(Action<ClassifierTrainingOptions> set)
        {
            var options = ToyData.FastOptions(epochs: 1);
            options.BatchSize = 8; // one batch, one step: the loss of the untrained model
            options.ValidationFraction = 0;
            options.Dropout = 0;
            set(options);
            var progress = ToyData.Recorder();
            using var initial = ToyData.Classifier();
            ClassifierTrainer.Train(train, null, initial, options, progress).Model.Dispose();
            return progress.Reports.Single().Loss;
        }

        double plain = FirstLoss(_ => { });
        double weighted = FirstLoss(o => o.ClassWeights = [1f, 5f]);
        double equal = FirstLoss(o => o.ClassWeights = [3f, 3f]);
        double balanced = FirstLoss(o => o.BalanceClasses = true);
        output.WriteLine($"plain {plain:R}, weighted {weighted:R}, equal {equal:R}, balanced {balanced:R}");
        weighted.Should().NotBeApproximately(plain, 1e-4);
        balanced.Should().NotBeApproximately(plain, 1e-6);
        equal.Should().BeApproximately(plain, 1e-6, "torch's weighted mean divides by the weights' sum");
    }

    [Fact]
    public void Bad_input_is_rejected_with_clear_messages()
    {
        using var initial = ToyData.Classifier();
        var options = ToyData.FastOptions(epochs: 1);
        var act = () => ClassifierTrainer.Train([], null, initial, options);
        act.Should().Throw<ArgumentException>().WithMessage("*no training examples*");

        var bad = ToyData.Separable(4, 1);
        bad[2] = bad[2] with { Label = 2 };
        act = () => ClassifierTrainer.Train(bad, null, initial, options);
        act.Should().Throw<ArgumentException>().WithMessage("*Example 2*label 2*[0, 2)*");

        act = () => ClassifierTrainer.Train(ToyData.Separable(4, 1), null, 1, ToyData.Tiny, null, options);
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*at least two classes*");

        var invalid = ToyData.FastOptions();
        invalid.WarmupFraction = 1.5;
        act = () => ClassifierTrainer.Train(ToyData.Separable(4, 1), null, initial, invalid);
        act.Should().Throw<ArgumentException>().WithMessage("*WarmupFraction*");

        invalid = ToyData.FastOptions();
        invalid.ClassWeights = [1f, 2f, 3f];
        act = () => ClassifierTrainer.Train(ToyData.Separable(4, 1), null, initial, invalid);
        act.Should().Throw<ArgumentException>().WithMessage("*ClassWeights has 3 entries*2 classes*");
    }

    [Fact]
    public void A_single_class_in_the_data_still_trains()
    {
        var one = ToyData.Separable(8, 1).Where(e => e.Label == 0).ToList();
        using var initial = ToyData.Classifier();
        var result = ClassifierTrainer.Train(one, null, initial, ToyData.FastOptions(epochs: 2));
        using var model = result.Model;
        ClassifierTrainer.Evaluate(model, one).Accuracy.Should().Be(1.0);
    }
}
