using FluentAssertions;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Training;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests.Training;

[Collection(TorchGlobalState.Name)]
public class PretrainerTests(ITestOutputHelper output)
{
    private static PretrainingOptions Options(int epochs) => new()
    {
        Epochs = epochs, BatchSize = 4, LearningRate = 3e-3, Threads = 1, EarlyStoppingPatience = 0, Seed = 3,
    };

    [Fact]
    public void Pretraining_lowers_the_loss_on_a_repetitive_corpus()
    {
        var train = ToyData.Repetitive(24, seed: 1);
        var validation = ToyData.Repetitive(8, seed: 2);
        manual_seed(1);
        using var initial = new BGptLMHeadModel(ToyData.Tiny);
        var before = Pretrainer.Evaluate(initial, validation);

        var result = Pretrainer.Train(train, validation, initial, Options(5));
        using var model = result.Model;
        foreach (var e in result.History)
            output.WriteLine($"epoch {e.Epoch}: train {e.TrainLoss:F4} val {e.ValidationLoss:F4} ({e.BitsPerByte:F3} bits/byte) {e.Seconds:F2}s {e.BytesPerSecond:F0} B/s");
        var after = Pretrainer.Evaluate(model, validation);
        output.WriteLine($"bits per byte: {before.BitsPerByte:F3} -> {after.BitsPerByte:F3}");
        before.BitsPerByte.Should().BeApproximately(before.Loss / Math.Log(2), 1e-12);
        after.Loss.Should().BeLessThan(before.Loss * 0.6);
        result.History[^1].ValidationLoss.Should().BeApproximately(after.Loss, 1e-5, "the same data at another batch size");
    }

    [Fact]
    public void Batched_language_model_validation_matches_batch_1()
    {
        manual_seed(2);
        using var model = new BGptLMHeadModel(ToyData.Tiny);
        var examples = ToyData.Repetitive(6, seed: 3).Concat(ToyData.Separable(4, 4)).ToList();
        var one = Pretrainer.Evaluate(model, examples, batchSize: 1);
        var four = Pretrainer.Evaluate(model, examples, batchSize: 4);
        output.WriteLine($"batch 1 {one.Loss:R}, batch 4 {four.Loss:R}");
        four.Loss.Should().BeApproximately(one.Loss, 1e-5);
    }

    [Fact]
    public void Resuming_from_a_checkpoint_continues_the_uninterrupted_run()
    {
        var train = ToyData.Repetitive(12, seed: 4);
        var validation = ToyData.Repetitive(4, seed: 5);
        var dir = ToyData.TempDir();
        try
        {
            manual_seed(4);
            using var initial = new BGptLMHeadModel(ToyData.Tiny);
            var full = Options(2);
            full.CheckpointPath = Path.Combine(dir, "full.pth");
            using var uninterrupted = Pretrainer.Train(train, validation, initial, full).Model;

            var interrupted = Options(2);
            interrupted.CheckpointPath = Path.Combine(dir, "cut.pth");
            using var cts = new CancellationTokenSource();
            var progress = new ToyData.SyncProgress(p => { if (p.Epoch == 2) cts.Cancel(); });
            var act = () => Pretrainer.Train(train, validation, initial, interrupted, progress, cts.Token);
            act.Should().Throw<OperationCanceledException>();
            var saved = BGptCheckpoint.Load(interrupted.CheckpointPath);
            saved.Epoch.Should().Be(1);
            saved.Optimizer.Should().NotBeNull();
            saved.MinEvalLoss.Should().NotBeNull();

            var resume = Options(2);
            resume.ResumeFrom = interrupted.CheckpointPath;
            var resumed = Pretrainer.Train(train, validation, ToyData.Tiny, null, resume);
            using var model = resumed.Model;
            resumed.History.Select(h => h.Epoch).Should().Equal(2);
            var a = ToyData.Weights(uninterrupted);
            var b = ToyData.Weights(model);
            double max = a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();
            output.WriteLine($"largest weight difference, resumed vs uninterrupted: {max:E2}");
            max.Should().BeLessThan(1e-6);
        }
        finally { Directory.Delete(dir, true); }
    }
}
