using FluentAssertions;
using Microsoft.ML.BGpt;
using Xunit;

namespace Microsoft.ML.BGpt.Tests.MLNet;

/// <summary>BGptAutoRecipe: the choices it reads off the data and the budget (fixed throughput; only the speed probe trains).</summary>
[Collection(Training.TorchGlobalState.Name)] // the probe trains, which seeds torch's generator and sets its threads
public class AutoRecipeTests
{
    private static readonly BGptThroughput Speed = new(10_000, 30_000);

    private static List<long> Lengths(int count, long length) => Enumerable.Repeat(length, count).ToList();

    [Fact]
    public void Window_covers_the_90th_percentile_file()
    {
        BGptAutoRecipe.CoveringWindow(Lengths(100, 800)).Should().Be(1024);
        BGptAutoRecipe.CoveringWindow(Lengths(100, 1862)).Should().Be(2048);
        BGptAutoRecipe.CoveringWindow(Lengths(100, 8044)).Should().Be(8192);
        BGptAutoRecipe.CoveringWindow(Lengths(100, 100)).Should().Be(BGptAutoRecipe.MinWindow);
        BGptAutoRecipe.CoveringWindow(Lengths(100, 60_000)).Should().Be(BGptAutoRecipe.MaxWindow);
        var mixed = Lengths(95, 500).Concat(Lengths(5, 50_000)).ToList();
        BGptAutoRecipe.CoveringWindow(mixed).Should().Be(1024, "the longest 10% do not set the window");
    }

    [Fact]
    public void Config_uses_wider_patches_for_long_windows_and_a_small_model()
    {
        var small = BGptAutoRecipe.ChooseConfig(Lengths(1000, 1800), classes: 10);
        small.PatchSize.Should().Be(16);
        small.MaxTokens.Should().Be(2048);
        small.HiddenSize.Should().Be(128);
        var audio = BGptAutoRecipe.ChooseConfig(Lengths(1000, 8044), classes: 10);
        audio.PatchSize.Should().Be(32);
        audio.PatchLength.Should().Be(256);
        var signal = BGptAutoRecipe.ChooseConfig(Lengths(1000, 8044), classes: 10, traits: new BGptDataTraits(SmoothSignal: true));
        signal.PatchSize.Should().Be(64, "a smooth signal gets at most 128 patches");
        signal.PatchLength.Should().Be(BGptAutoRecipe.SmoothSignalMaxPatches);
        BGptAutoRecipe.ChooseConfig(Lengths(1000, 3000), classes: 10, traits: new BGptDataTraits(SmoothSignal: true)).PatchSize.Should().Be(32);
        BGptAutoRecipe.ChooseConfig(Lengths(1000, 1800), classes: 10, traits: new BGptDataTraits(SmoothSignal: true)).PatchSize.Should().Be(16, "patches are never under 16 B");
        BGptAutoRecipe.ChooseConfig(Lengths(6000, 1000), classes: 10).HiddenSize.Should().Be(256);
    }

    [Fact]
    public void Only_symbol_data_gets_byte_bigram_buckets()
    {
        BGptAutoRecipe.ChooseConfig(Lengths(1000, 1800), classes: 10).BigramBuckets.Should().Be(BGptAutoRecipe.SymbolBigramBuckets);
        BGptAutoRecipe.ChooseConfig(Lengths(1000, 1800), classes: 10, precision: Microsoft.ML.BGpt.Training.TrainingPrecision.BFloat16Mixed).BigramBuckets.Should().Be(BGptAutoRecipe.SymbolBigramBuckets);
        BGptAutoRecipe.ChooseConfig(Lengths(1000, 8044), classes: 10, traits: new BGptDataTraits(SmoothSignal: true)).BigramBuckets.Should().Be(0, "audio samples are quantities");
        BGptAutoRecipe.ChooseConfig(Lengths(1000, 1862), classes: 10, traits: new BGptDataTraits(RecordStride: 28)).BigramBuckets.Should().Be(0, "raster rows are quantities");
        BGptAutoRecipe.Create(Lengths(1000, 1800), 10, TimeSpan.FromMinutes(15), Speed, minPretrainEpochs: 0).Config.BigramBuckets
            .Should().Be(BGptAutoRecipe.SymbolBigramBuckets, "the recipe trains the configuration it chose");
    }

    [Fact]
    public void Only_smooth_signals_start_with_a_smoothed_patch_embedding_and_are_resampled()
    {
        var signal = new BGptDataTraits(SmoothSignal: true);
        var scratch = BGptAutoRecipe.Create(Lengths(1000, 8044), 10, TimeSpan.FromMinutes(15), Speed, traits: signal);
        scratch.Pretraining.Should().BeNull("the budget is too short to pretrain here");
        scratch.Classifier.ByteValueSmoothing.Should().Be(BGptAutoRecipe.SmoothSignalByteValueSmoothing);
        scratch.Classifier.Resampling.Should().Be(BGptAutoRecipe.SmoothSignalResampling);
        scratch.Rationale.Should().Contain("smooth signal").And.Contain("resamples each file by up to 15%");
        var pretrained = BGptAutoRecipe.Create(Lengths(1000, 8044), 10, TimeSpan.FromMinutes(15), Speed, traits: signal, minPretrainEpochs: 0);
        pretrained.Pretraining!.ByteValueSmoothing.Should().Be(BGptAutoRecipe.SmoothSignalByteValueSmoothing, "pretraining builds the fresh model then");
        pretrained.Classifier.Resampling.Should().Be(BGptAutoRecipe.SmoothSignalResampling);
        pretrained.Pretraining!.Resampling.Should().Be(0, "measured on fine-tuning only");

        var other = BGptAutoRecipe.Create(Lengths(1000, 8044), 10, TimeSpan.FromMinutes(15), Speed, minPretrainEpochs: 0);
        other.Classifier.ByteValueSmoothing.Should().Be(0);
        other.Classifier.Resampling.Should().Be(0, "bytes that are codes are never resampled");
        other.Classifier.BestEpochTolerance.Should().Be(BGptAutoRecipe.FineTuneBestEpochTolerance, "a near-tie on validation goes to the later epoch");
        other.Pretraining!.ByteValueSmoothing.Should().Be(0);
        var records = BGptAutoRecipe.Create(Lengths(1000, 8044), 10, TimeSpan.FromMinutes(15), Speed, traits: new BGptDataTraits(RecordStride: 32));
        records.Classifier.ByteValueSmoothing.Should().Be(0, "records are not amplitudes");
        records.Classifier.Resampling.Should().Be(0);
    }

    [Fact]
    public void Measured_bf16_speed_buys_a_wider_deeper_model_trained_in_bf16()
    {
        var fp32 = BGptAutoRecipe.Create(Lengths(1000, 1800), 10, TimeSpan.FromMinutes(15), Speed);
        fp32.Config.HiddenSize.Should().Be(128);
        fp32.Classifier.Precision.Should().Be(Microsoft.ML.BGpt.Training.TrainingPrecision.Float32);

        var fast = new BGptThroughput(40_000, 120_000, Microsoft.ML.BGpt.Training.TrainingPrecision.BFloat16Mixed);
        var bf16 = BGptAutoRecipe.Create(Lengths(1000, 1800), 10, TimeSpan.FromMinutes(15), fast);
        bf16.Config.HiddenSize.Should().Be(256);
        bf16.Config.PatchNumLayers.Should().Be(4);
        bf16.Config.MaxTokens.Should().Be(fp32.Config.MaxTokens, "precision changes the model, not the window");
        bf16.Classifier.Precision.Should().Be(Microsoft.ML.BGpt.Training.TrainingPrecision.BFloat16Mixed);
        bf16.Pretraining!.Precision.Should().Be(Microsoft.ML.BGpt.Training.TrainingPrecision.BFloat16Mixed);
        bf16.Rationale.Should().Contain("bf16");
    }

    [Fact]
    public void Epoch_bounds_leave_room_for_a_probe_that_is_twice_too_slow()
    {
        // Probes of a few steps measured 1.2-2x below long runs; the phase's time budget, not its epoch count, ends it.
        var lengths = Lengths(1000, 1000);
        var budget = TimeSpan.FromMinutes(15);
        var recipe = BGptAutoRecipe.Create(lengths, 8, budget, Speed);
        var (pre, fine) = BGptAutoRecipe.Epochs(lengths, recipe.WindowBytes, budget, Speed);
        recipe.Classifier.Epochs.Should().BeGreaterThanOrEqualTo((int)Math.Ceiling(2 * fine));
        recipe.Pretraining!.Epochs.Should().BeGreaterThanOrEqualTo((int)Math.Ceiling(2 * pre));
        recipe.Classifier.MaxTrainingTime.Should().BeCloseTo(TimeSpan.FromSeconds((1 - BGptAutoRecipe.PretrainShare) * BGptAutoRecipe.UsableShare * budget.TotalSeconds), TimeSpan.FromSeconds(1));
        recipe.Pretraining.MaxTrainingTime.Should().BeCloseTo(TimeSpan.FromSeconds(BGptAutoRecipe.PretrainShare * BGptAutoRecipe.UsableShare * budget.TotalSeconds), TimeSpan.FromSeconds(1));
    }

    [Fact]
    public void Epochs_scale_with_the_budget()
    {
        var lengths = Lengths(1000, 1000);
        var short_ = BGptAutoRecipe.Create(lengths, 8, TimeSpan.FromMinutes(5), Speed);
        var long_ = BGptAutoRecipe.Create(lengths, 8, TimeSpan.FromMinutes(15), Speed);
        long_.Classifier.Epochs.Should().BeGreaterThan(short_.Classifier.Epochs);
        long_.Pretraining.Should().NotBeNull();
        long_.Pretraining!.Epochs.Should().BeGreaterThanOrEqualTo(1);
        long_.Pretraining.Config.Should().BeSameAs(long_.Config);
        long_.Classifier.EvalTruncation.Should().Be(TruncationStrategy.HeadTail);
        long_.Classifier.ValidationFraction.Should().BeGreaterThan(0, "early stopping uses training files, never the test split");
        long_.Rationale.Should().Contain("fine-tuning epochs");
    }

    [Fact]
    public void A_tight_budget_halves_the_window_of_long_files_only_and_then_skips_pretraining()
    {
        var lengths = Lengths(3000, 30_000);
        var recipe = BGptAutoRecipe.Create(lengths, 27, TimeSpan.FromMinutes(2), Speed);
        recipe.WindowBytes.Should().Be(2048, "files longer than any window are cut to head + tail, down to 2 KiB");
        recipe.Classifier.TrainTruncation.Should().Be(TruncationStrategy.HeadTail, "files are longer than the window");
        recipe.Rationale.Should().Contain("halved");
        var tiny = BGptAutoRecipe.Create(Lengths(3000, 1862), 10, TimeSpan.FromSeconds(30), Speed);
        tiny.Pretraining.Should().BeNull();
        tiny.WindowBytes.Should().Be(2048, "halving would cut every 1,862-byte file, so the epochs shrink instead");
    }

    [Fact]
    public void The_speed_probe_reports_real_tokens_per_second_in_the_precision_asked_for()
    {
        var config = BGptConfig.Create(patchSize: 8, patchLength: 16, hiddenSize: 32, patchNumLayers: 1, byteNumLayers: 1);
        var random = new Random(3);
        var sample = Enumerable.Range(0, 6).Select(i => { var b = new byte[40 + 20 * i]; random.NextBytes(b); return (ReadOnlyMemory<byte>)b; }).ToList();
        var fp32 = BGptAutoRecipe.MeasureThroughput(config, sample, classes: 3, batchSize: 2, steps: 2, threads: 1, tryBFloat16: false);
        fp32.Precision.Should().Be(Microsoft.ML.BGpt.Training.TrainingPrecision.Float32);
        foreach (var speed in new[] { fp32.PretrainTokensPerSecond, fp32.FineTuneTokensPerSecond })
            double.IsFinite(speed).Should().BeTrue();
        fp32.PretrainTokensPerSecond.Should().BeGreaterThan(0);
        fp32.FineTuneTokensPerSecond.Should().BeGreaterThan(0);
        var either = BGptAutoRecipe.MeasureThroughput(config, sample, classes: 3, batchSize: 2, steps: 2, threads: 1);
        either.FineTuneTokensPerSecond.Should().BeGreaterThan(0);
        FluentActions.Invoking(() => BGptAutoRecipe.MeasureThroughput(config, new List<ReadOnlyMemory<byte>>(), 3)).Should().Throw<ArgumentException>();
    }

    [Fact]
    public void A_fixed_window_is_kept_and_bad_input_is_refused()
    {
        BGptAutoRecipe.Create(Lengths(100, 5000), 4, TimeSpan.FromMinutes(1), Speed, windowBytes: 4096).WindowBytes.Should().Be(4096);
        FluentActions.Invoking(() => BGptAutoRecipe.Create(new List<long>(), 4, TimeSpan.FromMinutes(1))).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => BGptAutoRecipe.Create(Lengths(10, 10), 1, TimeSpan.FromMinutes(1))).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => BGptAutoRecipe.Create(Lengths(10, 10), 2, TimeSpan.Zero)).Should().Throw<ArgumentException>();
    }

    [Fact]
    public void Record_stride_is_found_in_raw_images_and_smooth_signals_in_waveforms_only()
    {
        var random = new Random(5);
        // 40 rows of 24 bytes (a random row pattern, slowly changing down the picture, plus noise) behind a 54-byte
        // header: each byte resembles the one a row below more than its horizontal neighbours; the stride is 24.
        byte[] Image()
        {
            var pixels = new byte[54 + 24 * 40];
            random.NextBytes(pixels.AsSpan(0, 54));
            var row = Enumerable.Range(0, 24).Select(_ => random.Next(40, 216)).ToArray();
            for (int y = 0; y < 40; y++)
                for (int x = 0; x < 24; x++)
                    pixels[54 + y * 24 + x] = (byte)Math.Clamp(row[x] + y + random.Next(-10, 11), 0, 255);
            return pixels;
        }
        byte[] Noise() { var b = new byte[1000]; random.NextBytes(b); return b; }
        string[] words = ["the", "model", "reads", "bytes", "of", "any", "file", "and", "learns", "a", "representation", "from", "them"];
        byte[] Text() => System.Text.Encoding.ASCII.GetBytes(string.Join(' ', Enumerable.Range(0, 200).Select(_ => words[random.Next(words.Length)])));

        BGptAutoRecipe.DetectRecordStride(Enumerable.Range(0, 20).Select(_ => (ReadOnlyMemory<byte>)Image()).ToList()).Should().Be(24);
        BGptAutoRecipe.DetectRecordStride(Enumerable.Range(0, 20).Select(_ => (ReadOnlyMemory<byte>)Noise()).ToList()).Should().BeNull();
        BGptAutoRecipe.DetectRecordStride(Enumerable.Range(0, 20).Select(_ => (ReadOnlyMemory<byte>)Text()).ToList()).Should().BeNull();
        BGptAutoRecipe.DetectRecordStride(new List<ReadOnlyMemory<byte>> { new byte[10] }).Should().BeNull("too little to vote on");

        // 8-bit PCM: a voiced sound (two low tones and noise around 128); neighbouring bytes differ by about 4.
        byte[] Wave()
        {
            var samples = new byte[8000];
            double f1 = random.Next(100, 300), f2 = random.Next(500, 900);
            for (int t = 0; t < samples.Length; t++)
                samples[t] = (byte)Math.Clamp(128 + 30 * Math.Sin(2 * Math.PI * f1 * t / 8000) + 5 * Math.Sin(2 * Math.PI * f2 * t / 8000) + random.Next(-2, 3), 0, 255);
            return samples;
        }
        List<ReadOnlyMemory<byte>> Twenty(Func<byte[]> make) => Enumerable.Range(0, 20).Select(_ => (ReadOnlyMemory<byte>)make()).ToList();
        BGptAutoRecipe.IsSmoothSignal(Twenty(Wave)).Should().BeTrue();
        BGptAutoRecipe.IsSmoothSignal(Twenty(Text)).Should().BeFalse();
        BGptAutoRecipe.IsSmoothSignal(Twenty(Noise)).Should().BeFalse();
        BGptAutoRecipe.IsSmoothSignal(Twenty(Image)).Should().BeFalse("the rows' pixels jump between neighbours");
        BGptAutoRecipe.IsSmoothSignal(Twenty(Wave).Take(8).Concat(Twenty(Text).Take(12)).ToList()).Should().BeFalse("most files decide");
        BGptAutoRecipe.IsSmoothSignal(new List<ReadOnlyMemory<byte>> { Wave() }).Should().BeFalse("too little to vote on");
        BGptDataTraits.Detect(Twenty(Image)).Should().Be(new BGptDataTraits(RecordStride: 24, SmoothSignal: false));
        BGptDataTraits.Detect(Twenty(Text)).Should().Be(BGptDataTraits.None);
        BGptDataTraits.Detect(Twenty(Wave)).SmoothSignal.Should().BeTrue();

        var config = BGptAutoRecipe.ChooseConfig(Lengths(100, 900), classes: 10, traits: new BGptDataTraits(RecordStride: 24));
        config.PatchSize.Should().Be(24);
        config.MaxTokens.Should().BeGreaterThanOrEqualTo(1024).And.BeLessThan(1024 + 24);
    }

    [Fact]
    public void Each_phase_is_bounded_by_its_share_of_the_budget()
    {
        var budget = TimeSpan.FromMinutes(15);
        var recipe = BGptAutoRecipe.Create(Lengths(1000, 1000), 8, budget, Speed);
        recipe.Pretraining.Should().NotBeNull();
        recipe.Pretraining!.MaxTrainingTime.Should().NotBeNull();
        recipe.Pretraining.PatchSamplingBatchSize.Should().BeGreaterThan(0);
        recipe.Classifier.MaxTrainingTime.Should().NotBeNull();
        (recipe.Pretraining.MaxTrainingTime!.Value + recipe.Classifier.MaxTrainingTime!.Value).Should().BeLessThanOrEqualTo(budget);
        var noPretraining = BGptAutoRecipe.Create(Lengths(1000, 1000), 8, TimeSpan.FromMinutes(1), Speed);
        noPretraining.Pretraining.Should().BeNull();
        noPretraining.Classifier.MaxTrainingTime!.Value.Should().BeGreaterThan(TimeSpan.FromMinutes(0.8), "fine-tuning gets the whole budget");
        var twoAndAHalf = BGptAutoRecipe.Create(Lengths(1000, 1000), 8, TimeSpan.FromMinutes(12), Speed);
        twoAndAHalf.Pretraining.Should().BeNull("2.5 estimated pretraining epochs are under MinPretrainEpochs");
        twoAndAHalf.Rationale.Should().Contain("2.51 pretraining epochs (< 3)");
        var forced = BGptAutoRecipe.Create(Lengths(1000, 1000), 8, TimeSpan.FromMinutes(1), Speed, minPretrainEpochs: 0);
        forced.Pretraining.Should().NotBeNull("minPretrainEpochs 0 always pretrains");
        forced.Pretraining!.MaxTrainingTime!.Value.Should().BeLessThan(TimeSpan.FromMinutes(BGptAutoRecipe.PretrainShare));
    }

    [Fact]
    public void Fine_tuning_gets_the_time_pretraining_left_and_gives_back_what_it_overran()
    {
        var recipe = BGptAutoRecipe.Create(Lengths(1000, 1000), 8, TimeSpan.FromMinutes(15), Speed);
        var pre = recipe.Pretraining!.MaxTrainingTime!.Value;
        var fine = recipe.Classifier.MaxTrainingTime!.Value;
        BGptAutoRecipe.FineTuningTime(recipe, pre).Should().Be(fine, "pretraining used exactly its share");
        BGptAutoRecipe.FineTuningTime(recipe, pre - TimeSpan.FromSeconds(100)).Should().Be(fine + TimeSpan.FromSeconds(100),
            "a last pretraining epoch that did not fit leaves its time to fine-tuning");
        BGptAutoRecipe.FineTuningTime(recipe, pre + TimeSpan.FromSeconds(30)).Should().Be(fine - TimeSpan.FromSeconds(30));
        BGptAutoRecipe.FineTuningTime(recipe, pre * 10).Should().Be(fine / 2, "fine-tuning keeps at least half its share");
        var noPretraining = BGptAutoRecipe.Create(Lengths(1000, 1000), 8, TimeSpan.FromMinutes(1), Speed);
        BGptAutoRecipe.FineTuningTime(noPretraining, TimeSpan.Zero).Should().Be(noPretraining.Classifier.MaxTrainingTime);
    }
}
