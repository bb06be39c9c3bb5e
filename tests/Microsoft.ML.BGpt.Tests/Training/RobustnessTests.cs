using FluentAssertions;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests.Training;

[Collection(TorchGlobalState.Name)]
public class RobustnessTests(ITestOutputHelper output)
{
    [Fact]
    public void Cancellation_stops_within_one_step_and_writes_no_file()
    {
        var dir = ToyData.TempDir();
        try
        {
            using var cts = new CancellationTokenSource();
            var progress = new ToyData.SyncProgress(p => { if (p.Step == 2) cts.Cancel(); });
            var options = ToyData.FastOptions(epochs: 2);
            options.CheckpointPath = Path.Combine(dir, "best.pth");
            using var initial = ToyData.Classifier();
            var act = () => ClassifierTrainer.Train(ToyData.Separable(16, 1), ToyData.Separable(4, 2), initial, options, progress, cts.Token);
            act.Should().Throw<OperationCanceledException>();
            progress.Reports.Should().HaveCount(2, "no further step starts once cancelled");
            Directory.EnumerateFileSystemEntries(dir).Should().BeEmpty("no checkpoint was due and no temporary file may be left");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void A_poisoned_weight_stops_training_with_a_clear_exception()
    {
        using var initial = ToyData.Classifier();
        using (no_grad()) initial.named_parameters().First(p => p.name == "classifier.weight").parameter[0, 0] = float.NaN;
        var dir = ToyData.TempDir();
        try
        {
            var options = ToyData.FastOptions(epochs: 1);
            options.CheckpointPath = Path.Combine(dir, "best.pth");
            var act = () => ClassifierTrainer.Train(ToyData.Separable(8, 1), null, initial, options);
            var e = act.Should().Throw<TrainingDivergedException>().Which;
            output.WriteLine(e.Message);
            e.Epoch.Should().Be(1);
            e.Step.Should().Be(1);
            e.Message.Should().Contain("epoch 1").And.Contain("step 1").And.Contain("lower LearningRate");
            Directory.EnumerateFileSystemEntries(dir).Should().BeEmpty();
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void An_absurd_learning_rate_diverges_and_the_checkpoint_stays_the_last_good_one()
    {
        var dir = ToyData.TempDir();
        try
        {
            var path = Path.Combine(dir, "best.pth");
            var train = ToyData.Separable(8, 1);
            var good = ToyData.FastOptions(epochs: 1);
            good.ValidationFraction = 0;
            good.CheckpointPath = path;
            using var initial = ToyData.Classifier();
            ClassifierTrainer.Train(train, null, initial, good).Model.Dispose();
            var goodBytes = File.ReadAllBytes(path);

            var absurd = ToyData.FastOptions(epochs: 3);
            absurd.ValidationFraction = 0;
            absurd.LearningRate = 1e38;
            absurd.MaxGradNorm = 0;
            absurd.ResumeFrom = path;
            absurd.CheckpointPath = path;
            var act = () => ClassifierTrainer.Train(train, null, initial, absurd);
            var e = act.Should().Throw<TrainingDivergedException>().Which;
            output.WriteLine(e.Message);
            e.Epoch.Should().Be(2, "epoch 1 was resumed from the checkpoint");
            File.ReadAllBytes(path).Should().Equal(goodBytes, "the checkpoint on disk stays the last good one");
            Directory.EnumerateFiles(dir).Should().Equal([path], "no temporary files are left");
            BGptCheckpoint.Load(path).Weights.Values.SelectMany(t => t.ToFloatArray()).Should().OnlyContain(x => float.IsFinite(x));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Tensors_do_not_pile_up_with_steps()
    {
        var options = ToyData.FastOptions(epochs: 1);
        using var initial = ToyData.Classifier();
        var train = ToyData.Separable(16, 1);
        static long Live() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        void Run(int epochs)
        {
            options.Epochs = epochs;
            ClassifierTrainer.Train(train, ToyData.Separable(4, 2), initial, options).Model.Dispose();
        }

        Run(1); // first-use allocations
        long a = Live();
        Run(1);
        long b = Live();
        Run(4); // 4x the steps
        long c = Live();
        output.WriteLine($"live tensors: {a} -> {b} (1 epoch) -> {c} (4 epochs)");
        (c - b).Should().BeLessThanOrEqualTo(Math.Max(0, b - a), "leftovers must not grow with the number of steps");
    }

    [Fact]
    public void Language_model_steps_its_loss_and_generation_leave_no_tensors_behind()
    {
        static long Live() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var train = ToyData.Repetitive(12, seed: 4);
        manual_seed(2);
        using var initial = new Microsoft.ML.BGpt.Modeling.BGptLMHeadModel(ToyData.Tiny);
        var options = new PretrainingOptions { BatchSize = 4, LearningRate = 1e-3, Threads = 1, EarlyStoppingPatience = 0, Seed = 3 };
        using var model = Pretrainer.Train(train, null, initial, options).Model;
        var generator = new Microsoft.ML.BGpt.Modeling.BGptGenerator(model);
        var prefix = Enumerable.Repeat(97, ToyData.Tiny.PatchSize).ToArray();
        void Work(int times)
        {
            options.Epochs = times;
            Pretrainer.Train(train, null, initial, options).Model.Dispose();
            for (int i = 0; i < times; i++)
            {
                Pretrainer.Evaluate(model, train);
                generator.Generate(prefix, new Microsoft.ML.BGpt.Modeling.SamplingOptions(), new Random(i), maxPatches: 3);
            }
        }

        Work(1); // first-use allocations
        long a = Live();
        Work(1);
        long b = Live();
        Work(4);
        long c = Live();
        output.WriteLine($"live tensors: {a} -> {b} (once) -> {c} (4 times)");
        (c - b).Should().BeLessThanOrEqualTo(Math.Max(0, b - a), "leftovers must not grow with steps, evaluations or generated patches");
    }
}

