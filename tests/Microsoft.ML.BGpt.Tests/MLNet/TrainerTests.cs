using FluentAssertions;
using Microsoft.ML;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Training;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>The ML.NET trainers on tiny random models and a separable toy set.</summary>
[Collection(Training.TorchGlobalState.Name)]
public class TrainerTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgpt-train-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static readonly BGptConfig Tiny = BGptConfig.Create(patchSize: 4, patchLength: 16, hiddenSize: 32, patchNumLayers: 1, byteNumLayers: 1);

    public sealed class FileRow
    {
        public byte[] Bytes { get; set; } = Array.Empty<byte>();
        public byte[] Extension { get; set; } = Array.Empty<byte>();
        public string Label { get; set; } = "";
        public bool IsText { get; set; }
        public string Source { get; set; } = "";
        public int Speaker { get; set; }
    }

    public sealed class Prediction { public float[] Score { get; set; } = Array.Empty<float>(); public string PredictedLabel { get; set; } = ""; }
    public sealed class BinaryPrediction { public float Score { get; set; } public float Probability { get; set; } public bool PredictedLabel { get; set; } }

    /// <summary>Three kinds of content: lowercase text, high bytes, digits; lengths 20..60.</summary>
    internal static List<FileRow> Toy(int count, int seed)
    {
        var rng = new Random(seed);
        var rows = new List<FileRow>();
        for (int i = 0; i < count; i++)
        {
            int kind = i % 3, length = rng.Next(20, 60);
            var bytes = new byte[length];
            for (int j = 0; j < length; j++)
                bytes[j] = kind switch { 0 => (byte)rng.Next('a', 'z' + 1), 1 => (byte)rng.Next(0x80, 0x100), _ => (byte)rng.Next('0', '9' + 1) };
            rows.Add(new FileRow
            {
                Bytes = bytes, Extension = "dat"u8.ToArray(), Label = new[] { "text", "binary", "digits" }[kind], IsText = kind == 0,
                Source = i % 7 == 0 ? "" : $"source-{i / 6}", Speaker = i / 6,
            });
        }
        return rows;
    }

    private static BGptClassifierOptions Options(int epochs = 6) => new()
    {
        Config = Tiny, Epochs = epochs, BatchSize = 8, LearningRate = 3e-3, ValidationFraction = 0.2, EarlyStoppingPatience = 0, Seed = 1,
        Threads = 1,
    };

    [Fact]
    public void Asking_for_bf16_where_it_is_slow_logs_a_warning_and_only_there()
    {
        var ml = new MLContext(seed: 0);
        var messages = new List<string>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        var options = Options(epochs: 1);
        options.Precision = TrainingPrecision.BFloat16Mixed;
        ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.BGpt(options))
            .Fit(ml.Data.LoadFromEnumerable(Toy(24, 3)));
        var warning = messages.FirstOrDefault(m => m.Contains("Precision is BFloat16Mixed", StringComparison.Ordinal));
        output.WriteLine(warning ?? $"no warning (bf16 at {BFloat16Speed.RelativeToFloat32:0.000}x fp32)");
        (warning is not null).Should().Be(!BFloat16Speed.IsFast);
    }

    [Fact]
    public void Multiclass_trainer_learns_evaluates_saves_and_serves()
    {
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(Toy(90, 1));
        var test = ml.Data.LoadFromEnumerable(Toy(30, 2));
        var trainer = ml.MulticlassClassification.Trainers.BGpt(Options());
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(trainer);
        var model = pipeline.Fit(train);
        var scored = model.Transform(test);
        scored.Schema["PredictedLabel"].Type.Should().BeOfType<KeyDataViewType>();
        scored.Schema["Score"].Type.Should().BeOfType<VectorDataViewType>().Which.Size.Should().Be(3);

        var metrics = ml.MulticlassClassification.Evaluate(scored);
        var readable = ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(scored).Transform(scored);
        var predictions = ml.Data.CreateEnumerable<Prediction>(readable, reuseRowObject: false).ToList();
        var truth = Toy(30, 2).Select(r => r.Label).ToList();
        double byHand = predictions.Zip(truth).Count(p => p.First.PredictedLabel == p.Second) / (double)truth.Count;
        metrics.MicroAccuracy.Should().BeApproximately(byHand, 1e-9, "Evaluate counts the same argmax as we do");
        metrics.MicroAccuracy.Should().BeGreaterThan(0.9);
        output.WriteLine($"toy accuracy {metrics.MicroAccuracy:P1}, log-loss {metrics.LogLoss:F3}; epochs: " +
            string.Join("; ", trainer.LastTrainingHistory!.Select(e => $"{e.TrainLoss:F3}/{e.ValidationAccuracy:P0}")));
        trainer.LastTrainingHistory!.Last().TrainLoss.Should().BeLessThan(trainer.LastTrainingHistory![0].TrainLoss);

        var zip = Path.Combine(_dir, "model.zip");
        ml.Model.Save(model, train.Schema, zip);
        var fresh = new MLContext();
        var loaded = fresh.Model.Load(zip, out _);
        var withValues = loaded.Append(fresh.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(loaded.Transform(test)));
        var engine = fresh.Model.CreatePredictionEngine<FileRow, Prediction>(withValues);
        var row = Toy(30, 2)[4];
        var p = engine.Predict(row);
        p.PredictedLabel.Should().Be(predictions[4].PredictedLabel);
        p.Score.Should().Equal(predictions[4].Score);
    }

    [Fact]
    public void Same_seed_same_model_and_binary_trainer_gives_ML_NET_binary_columns()
    {
        var ml = new MLContext(seed: 0);
        var rows = Toy(60, 3);
        var data = ml.Data.LoadFromEnumerable(rows);
        var options = Options(epochs: 3);
        options.LabelColumnName = "IsText";
        float[] Scores() => ml.Data.CreateEnumerable<BinaryPrediction>(ml.BinaryClassification.Trainers.BGpt(options).Fit(data).Transform(data), false)
            .Select(b => b.Score).ToArray();
        var a = Scores();
        a.Should().Equal(Scores(), "the same seed and data give the same model");

        var scored = ml.BinaryClassification.Trainers.BGpt(options).Fit(data).Transform(data);
        var metrics = ml.BinaryClassification.Evaluate(scored, labelColumnName: "IsText");
        metrics.Accuracy.Should().BeGreaterThan(0.8);
        var b = ml.Data.CreateEnumerable<BinaryPrediction>(scored, false).First();
        b.Probability.Should().BeApproximately(1f / (1f + MathF.Exp(-b.Score)), 1e-6f);
        b.PredictedLabel.Should().Be(b.Score > 0);
    }

    [Fact]
    public void Pretraining_writes_a_checkpoint_the_classifier_starts_from()
    {
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable(Toy(60, 4));
        var lm = Path.Combine(_dir, "lm.pth");
        // With byte bigrams, so the LM, its ONNX bits-per-byte column and the classifier built from it all carry them.
        var pretrain = ml.Transforms.PretrainBGpt(new BGptPretrainingOptions { Config = Tiny with { BigramBuckets = 16 }, Epochs = 2, LearningRate = 3e-3, CheckpointPath = lm, Seed = 1, Threads = 1 });
        var classifier = Options(epochs: 2);
        classifier.Config = null;
        classifier.PretrainedWeights = lm;
        var model = pretrain.Append(ml.Transforms.Conversion.MapValueToKey("Label")).Append(ml.MulticlassClassification.Trainers.BGpt(classifier)).Fit(data);

        BGptCheckpoint.Load(lm).Kind.Should().Be(BGptCheckpointKind.LanguageModel);
        BGptCheckpoint.Load(lm).Config.BigramBuckets.Should().Be(16);
        var scored = model.Transform(data);
        var bpb = scored.GetColumn<float[]>("BitsPerByte").ToList();
        bpb.Should().OnlyContain(v => v.Length == 1 && v[0] > 0 && v[0] < 9);
        pretrain.LastTrainingHistory!.Last().TrainLoss.Should().BeLessThan(pretrain.LastTrainingHistory![0].TrainLoss);
    }

    [Fact]
    public void Bad_inputs_fail_clearly_and_cancellation_leaves_no_file()
    {
        var ml = new MLContext(seed: 0);
        var rows = Toy(30, 5);
        var data = ml.Data.LoadFromEnumerable(rows);

        var noLabel = () => ml.MulticlassClassification.Trainers.BGpt(Options()).Fit(data);
        noLabel.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*'Label' has type String*key-typed label*");

        var single = ml.Data.LoadFromEnumerable(rows.Where(r => r.Label == "text"));
        var oneClass = () => ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.BGpt(Options())).Fit(single);
        oneClass.Should().Throw<InvalidOperationException>().WithMessage("*single class*");

        var notACheckpoint = Path.Combine(_dir, "weights.pth");
        File.WriteAllText(notACheckpoint, "not a checkpoint");
        var badWeights = Options();
        badWeights.PretrainedWeights = notACheckpoint;
        var wrongWeights = () => ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.BGpt(badWeights)).Fit(data);
        wrongWeights.Should().Throw<BGptCheckpointException>().WithMessage("*weights.pth*");

        var saved = Path.Combine(_dir, "best.pth");
        using var cts = new CancellationTokenSource();
        var cancelled = Options(epochs: 50);
        cancelled.CheckpointPath = saved;
        cancelled.CancellationToken = cts.Token;
        // Cancelled in epoch 2, after epoch 1 wrote its checkpoint: that file stays whole, and no temporary is left.
        cancelled.Progress = new Progress(p => { if (p.Epoch >= 2) cts.Cancel(); });
        var run = () => ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.BGpt(cancelled)).Fit(data);
        run.Should().Throw<OperationCanceledException>();
        Directory.GetFiles(_dir).Should().NotContain(f => f.EndsWith(".tmp"));
        BGptCheckpoint.Load(saved).Labels.Should().Equal("text", "binary", "digits");
        cancelled.LabelNames.Should().BeNull("the trainer fills in label names for its own run only");
    }

    [Fact]
    public void One_estimator_fits_data_with_other_classes_and_checks_the_validation_keys()
    {
        var ml = new MLContext(seed: 0);
        var rows = Toy(30, 9);
        var options = Options(epochs: 1);
        var trainer = ml.MulticlassClassification.Trainers.BGpt(options);
        var three = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows));
        trainer.Fit(three.Transform(ml.Data.LoadFromEnumerable(rows)));
        var two = rows.Where(r => r.Label != "digits").ToList();
        var twoKeys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(two)).Transform(ml.Data.LoadFromEnumerable(two));
        var refit = () => trainer.Fit(twoKeys);
        refit.Should().NotThrow("the first Fit's label names stay out of the caller's options");
        options.LabelNames.Should().BeNull();

        // Validation keyed by its own MapValueToKey (other order) would score the wrong classes.
        var train = three.Transform(ml.Data.LoadFromEnumerable(rows));
        var reversed = rows.AsEnumerable().Reverse().ToList();
        var otherKeys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(reversed)).Transform(ml.Data.LoadFromEnumerable(reversed));
        var mismatched = () => trainer.Fit(train, otherKeys);
        mismatched.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*validation*'Label'*same fitted MapValueToKey*");
        trainer.Fit(train, three.Transform(ml.Data.LoadFromEnumerable(reversed))).Should().NotBeNull("the same key mapping passes");
    }

    public sealed class ClashRow
    {
        public byte[] Bytes { get; set; } = Array.Empty<byte>();
        public byte[] Extension { get; set; } = Array.Empty<byte>();
        public string Label { get; set; } = "";
        public string probabilities { get; set; } = ""; // a user column named like a graph output
    }

    [Fact]
    public void Trainers_refuse_an_input_column_named_like_the_graph_before_training()
    {
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable(Toy(12, 2).Select(r => new ClashRow { Bytes = r.Bytes, Extension = r.Extension, Label = r.Label, probabilities = "x" }));
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var bgpt = () => ml.MulticlassClassification.Trainers.BGpt(Options(epochs: 1)).Fit(keyed);
        bgpt.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*Trainers.BGpt*'probabilities'*rename it first*");
        var auto = () => ml.MulticlassClassification.Trainers.BGptAuto(new BGptAutoClassifierOptions()).Fit(keyed);
        auto.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*BGptAuto*'probabilities'*");
        var renamed = ml.Data.LoadFromEnumerable(Toy(12, 2).Select(r => new ClashRow { Bytes = r.Bytes, Extension = r.Extension, Label = r.Label }));
        var pretrain = () => ml.Transforms.PretrainBGpt(new BGptPretrainingOptions { Config = Tiny, OutputColumnName = "Bits" })
            .Fit(ml.Transforms.CopyColumns("bits_per_byte", "Label").Fit(renamed).Transform(renamed));
        pretrain.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*PretrainBGpt*'bits_per_byte'*");
    }

    public sealed class WideKeyRow
    {
        public byte[] Bytes { get; set; } = Array.Empty<byte>();
        public byte[] Extension { get; set; } = Array.Empty<byte>();
        [KeyType(3)] public ulong Label { get; set; }
    }

    [Fact]
    public void A_key_label_that_is_not_UInt32_is_named()
    {
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable(Toy(6, 1).Select((r, i) => new WideKeyRow { Bytes = r.Bytes, Extension = r.Extension, Label = (ulong)(i % 3 + 1) }));
        var trainer = ml.MulticlassClassification.Trainers.BGpt(Options(epochs: 1));
        var fit = () => trainer.Fit(data);
        fit.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*'Label'*UInt32*MapValueToKey*");
    }

    [Fact]
    public void A_pretrained_classifier_keeps_its_head_only_for_the_same_labels_in_the_same_order()
    {
        var ml = new MLContext(seed: 0);
        var rows = Toy(30, 4);
        var first = Options(epochs: 1);
        first.CheckpointPath = Path.Combine(_dir, "cls.pth");
        ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.BGpt(first)).Fit(ml.Data.LoadFromEnumerable(rows));
        var head = BGptCheckpoint.Load(first.CheckpointPath).Weights["classifier.weight"].ToFloatArray();

        float[] HeadAfterZeroSteps(IEnumerable<FileRow> order)
        {
            var next = Options(epochs: 1);
            next.PretrainedWeights = first.CheckpointPath;
            next.LearningRate = 1e-12; // the head moves by nothing measurable: what it started from shows
            next.CheckpointPath = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".pth");
            var data = ml.Data.LoadFromEnumerable(order.ToList());
            ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.BGpt(next)).Fit(data);
            return BGptCheckpoint.Load(next.CheckpointPath).Weights["classifier.weight"].ToFloatArray();
        }

        HeadAfterZeroSteps(rows).Zip(head).Max(p => Math.Abs(p.First - p.Second)).Should().BeLessThan(1e-6f, "same labels, same order: the head is kept");
        // Sorted by label, MapValueToKey numbers the classes binary, digits, text: the same three in another order.
        HeadAfterZeroSteps(rows.OrderBy(r => r.Label, StringComparer.Ordinal)).Zip(head).Max(p => Math.Abs(p.First - p.Second))
            .Should().BeGreaterThan(1e-3f, "a head for other key positions starts fresh");
    }

    [Fact]
    public void A_sampling_key_column_gives_each_training_file_its_group_and_is_checked_by_name()
    {
        var ml = new MLContext(seed: 0);
        var rows = Toy(30, 6);
        var data = ml.Data.LoadFromEnumerable(rows);
        var text = Microsoft.ML.BGpt.MLNet.DataViewExamples.Read(data, "Bytes", "Extension", null, false, "test", "Source");
        text.Select(e => e.Group).Should().Equal(rows.Select(r => r.Source.Length == 0 ? null : r.Source), "an empty key is no group");
        var numbers = Microsoft.ML.BGpt.MLNet.DataViewExamples.Read(data, "Bytes", "Extension", null, false, "test", "Speaker");
        numbers.Select(e => e.Group).Should().Equal(rows.Select(r => r.Speaker.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        var keyed = Options(epochs: 2);
        keyed.SamplingKeyColumnName = "Source";
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.BGpt(keyed));
        pipeline.Fit(data).Transform(data).Schema.GetColumnOrNull("PredictedLabel").Should().NotBeNull();

        keyed.SamplingKeyColumnName = "Voice";
        var missing = () => pipeline.Fit(data);
        missing.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*input column 'Voice' not found*group*");
        keyed.SamplingKeyColumnName = "Bytes";
        var vector = () => ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.BGpt(keyed)).Fit(data);
        vector.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*'Bytes' has type*Vector<Byte>*scalar column*");
        var auto = () => ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.BGptAuto(new BGptAutoClassifierOptions { SamplingKeyColumnName = "Voice" })).Fit(data);
        auto.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*BGptAuto*'Voice' not found*");
        var pretrain = () => ml.Transforms.PretrainBGpt(new BGptPretrainingOptions { Config = Tiny, SamplingKeyColumnName = "Voice" })
            .Fit(data);
        pretrain.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*PretrainBGpt*'Voice' not found*");
    }

    private sealed class Progress(Action<TrainingProgress> action) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => action(value);
    }
}
