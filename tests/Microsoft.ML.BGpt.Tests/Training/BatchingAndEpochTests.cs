using FluentAssertions;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Training;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.BGpt.Tests.Training;

[Collection(TorchGlobalState.Name)]
public class BatchingAndEpochTests(ITestOutputHelper output)
{
    [Fact]
    public void Length_buckets_cut_padding_and_use_every_example_once()
    {
        var examples = ToyData.Separable(200, seed: 8);
        var batcher = new ExampleBatcher(examples, ToyData.Tiny, batchSize: 8);
        int Patches(int i) => (int)Math.Min(ByteEncoder.FullPatchCount(examples[i].Content.Length, 4), 16);
        double PaddingShare(IEnumerable<int[]> plan)
        {
            long real = 0, padded = 0;
            foreach (var batch in plan)
            {
                real += batch.Sum(Patches);
                padded += (long)batch.Max(Patches) * batch.Length;
            }
            return 1 - (double)real / padded;
        }

        var plan = batcher.Plan(new Random(1));
        plan.SelectMany(b => b).Order().Should().Equal(Enumerable.Range(0, 200));
        plan.Should().HaveCount(25);
        var shuffled = Enumerable.Range(0, 200).ToArray();
        new Random(1).Shuffle(shuffled);
        double bucketed = PaddingShare(plan), random = PaddingShare(shuffled.Chunk(8));
        output.WriteLine($"padding: {bucketed:P1} bucketed vs {random:P1} unsorted; validation plan {PaddingShare(batcher.Plan(null)):P1}");
        bucketed.Should().BeLessThan(random / 2);
        batcher.Plan(new Random(2)).Select(b => b[0]).Should().NotEqual(plan.Select(b => b[0]), "each epoch has its own order");

        var batch = batcher.Batches(TruncationStrategy.Head, null).First();
        batch.Tokens.Should().HaveCount(batch.Rows * batch.Patches * 4);
        for (int r = 0; r < batch.Rows; r++)
            batch.Mask.Skip(r * batch.Patches).Take(batch.Patches).Should().Equal(
                Enumerable.Repeat(1L, batch.RealPatches[r]).Concat(Enumerable.Repeat(0L, batch.Patches - batch.RealPatches[r])));
    }

    [Fact]
    public void Byte_shift_inserts_or_deletes_a_few_bytes_at_one_place_and_keeps_the_rest_in_order()
    {
        var content = Enumerable.Range(0, 200).Select(i => (byte)i).ToArray();
        var random = new Random(3);
        var lengths = new HashSet<int>();
        for (int trial = 0; trial < 500; trial++)
        {
            var shifted = ExampleBatcher.Shift(content, 3, random).ToArray();
            int change = shifted.Length - content.Length;
            change.Should().BeInRange(-3, 3);
            lengths.Add(shifted.Length);
            // Same bytes before the cut and after it; in between, copies of the byte at the cut (or nothing).
            int head = 0;
            while (head < Math.Min(shifted.Length, content.Length) && shifted[head] == content[head]) head++;
            if (change < 0)
                shifted.Skip(head).Should().Equal(content.Skip(head - change), "deleted bytes come out of one place");
            else if (change > 0)
            {
                shifted.Skip(head).Take(change).Should().OnlyContain(b => b == content[head - 1] || b == content[Math.Min(head, content.Length - 1)]);
                shifted.TakeLast(content.Length - head).Should().Equal(content.Skip(head));
            }
            else shifted.Should().Equal(content);
        }
        lengths.Should().HaveCount(7, "every shift from -3 to 3 is drawn");

        // Training uses it only when asked, and only with a random (validation batches are never shifted).
        var examples = new[] { new ByteExample(content, ReadOnlyMemory<byte>.Empty, 0) };
        var config = BGptConfig.Create(patchSize: 4, patchLength: 64, hiddenSize: 8, patchNumLayers: 1, byteNumLayers: 1);
        var batcher = new ExampleBatcher(examples, config, batchSize: 1);
        long[] Tokens(Random? r, int shift) => batcher.Batches(TruncationStrategy.Head, r, shift).Single().Tokens;
        Tokens(new Random(5), 0).Should().Equal(Tokens(null, 0));
        Tokens(null, 3).Should().Equal(Tokens(null, 0));
        var unshifted = Tokens(null, 0);
        Enumerable.Range(0, 10).Count(seed => !Tokens(new Random(seed), 3).SequenceEqual(unshifted)).Should().BePositive();
        var act = () => new ClassifierTrainingOptions { ByteShift = -1 }.Validate();
        act.Should().Throw<ArgumentException>().WithMessage("*ByteShift*");
    }

    [Fact]
    public void Resampling_interpolates_the_bytes_as_samples_at_the_new_rate()
    {
        byte[] ramp = [0, 10, 20, 30, 40];
        ExampleBatcher.Resample(ramp, 1).ToArray().Should().Equal(ramp);
        ExampleBatcher.Resample(ramp, 2).ToArray().Should().Equal(new byte[] { 0, 20, 40 }, "every other sample");
        ExampleBatcher.Resample(ramp, 0.5).ToArray().Should().Equal(new byte[] { 0, 5, 10, 15, 20, 25, 30, 35, 40 }, "midpoints in between");
        ExampleBatcher.Resample(new byte[] { 0, 255 }, 0.25).ToArray().Should().Equal(new byte[] { 0, 64, 128, 191, 255 }, "rounded to the nearest byte");
        // A sine at 1/40 cycle per sample comes out at 1.1/40 at rate 1.1: the same wave, faster and shorter.
        var wave = Enumerable.Range(0, 4000).Select(i => (byte)Math.Round(128 + 100 * Math.Sin(2 * Math.PI * i / 40))).ToArray();
        var faster = ExampleBatcher.Resample(wave, 1.1).ToArray();
        faster.Length.Should().Be(3636);
        for (int j = 0; j < faster.Length; j++) ((double)faster[j]).Should().BeApproximately(128 + 100 * Math.Sin(2 * Math.PI * j * 1.1 / 40), 3);

        // Training resamples only when asked, and only with a random (validation batches are never changed); the
        // factors stay within 1 / (1 + r) .. 1 + r.
        var content = wave.Take(800).ToArray();
        var config = BGptConfig.Create(patchSize: 4, patchLength: 256, hiddenSize: 8, patchNumLayers: 1, byteNumLayers: 1);
        var batcher = new ExampleBatcher(new[] { new ByteExample(content, ReadOnlyMemory<byte>.Empty, 0) }, config, batchSize: 1);
        long[] Tokens(Random? r, double resampling) => batcher.Batches(TruncationStrategy.Head, r, 0, resampling).Single().Tokens;
        Tokens(new Random(5), 0).Should().Equal(Tokens(null, 0));
        Tokens(null, 0.2).Should().Equal(Tokens(null, 0));
        var lengths = Enumerable.Range(0, 400).Select(seed => Tokens(new Random(seed), 0.2).Count(t => t != BGptConfig.SpecialToken)).ToList();
        lengths.Should().OnlyContain(n => n >= 800 / 1.2 - 1 && n <= 800 * 1.2 + 1);
        lengths.Distinct().Count().Should().BeGreaterThan(100, "each draw has its own factor");
        // Log-uniform in [1/1.2, 1.2]: the log factors average 0 and reach both ends.
        var logFactors = lengths.Select(n => Math.Log(800.0 / n)).ToList();
        logFactors.Average().Should().BeApproximately(0, 0.03);
        logFactors.Min().Should().BeLessThan(-0.95 * Math.Log(1.2));
        logFactors.Max().Should().BeGreaterThan(0.95 * Math.Log(1.2));
        var act = () => new ClassifierTrainingOptions { Resampling = -0.1 }.Validate();
        act.Should().Throw<ArgumentException>().WithMessage("*Resampling*");
    }

    [Fact]
    public void Gradient_accumulation_takes_one_step_per_group_of_batches()
    {
        var options = ToyData.FastOptions(epochs: 2);
        options.BatchSize = 2;
        options.GradientAccumulationSteps = 3;
        options.ValidationFraction = 0;
        var progress = ToyData.Recorder();
        using var initial = ToyData.Classifier();
        ClassifierTrainer.Train(ToyData.Separable(10, 1), null, initial, options, progress).Model.Dispose();
        // 5 batches per epoch in groups of 3 and 2: 2 steps per epoch.
        progress.Reports.Select(r => (r.Epoch, r.Step)).Should().Equal((1, 1), (1, 2), (2, 3), (2, 4));
        progress.Reports.Should().OnlyContain(r => r.TotalSteps == 4 && r.BytesPerSecond > 0);
    }

    [Fact]
    public void Early_stopping_ends_a_run_without_improvement_and_keeps_the_best_epoch()
    {
        var options = ToyData.FastOptions(epochs: 5);
        options.LearningRate = 1e-12; // far below float resolution: the weights, and so validation, never change
        options.EarlyStoppingPatience = 1;
        using var initial = ToyData.Classifier();
        var result = ClassifierTrainer.Train(ToyData.Separable(8, 1), ToyData.Separable(4, 2), initial, options);
        using var model = result.Model;
        result.StoppedEarly.Should().BeTrue();
        result.History.Should().HaveCount(2);
        result.BestEpoch.Should().Be(1);
        result.History.Select(h => h.IsBest).Should().Equal(true, false);
    }

    [Fact]
    public void The_best_checkpoint_is_in_the_original_layout_with_labels_and_optimizer_state()
    {
        var dir = ToyData.TempDir();
        try
        {
            var options = ToyData.FastOptions(epochs: 2);
            options.CheckpointPath = Path.Combine(dir, "cls.pth");
            options.LabelNames = ["mostly-a", "mostly-b"];
            using var initial = ToyData.Classifier();
            var result = ClassifierTrainer.Train(ToyData.Separable(12, 1), ToyData.Separable(4, 2), initial, options);
            using var model = result.Model;
            var saved = BGptCheckpoint.Load(options.CheckpointPath);
            saved.Kind.Should().Be(BGptCheckpointKind.Classifier);
            saved.Labels.Should().Equal("mostly-a", "mostly-b");
            saved.Epoch.Should().Be(result.BestEpoch);
            saved.BestEpoch.Should().Be(result.BestEpoch);
            saved.MaxEvalAccuracy.Should().Be(result.History[result.BestEpoch - 1].ValidationAccuracy);
            saved.Optimizer!.Parameters.Should().NotBeEmpty();
            saved.Optimizer.LearningRate.Should().BeGreaterThan(0);
            var exported = Microsoft.ML.BGpt.Modeling.ModelWeights.Export(model);
            ToyData.Flatten(saved.Weights.Where(kv => exported.ContainsKey(kv.Key)).ToDictionary())
                .Should().Equal(ToyData.Flatten(exported), "the checkpoint holds the returned (best) model; it adds the original's buffers");
        }
        finally { Directory.Delete(dir, true); }
    }
}
