using System.CommandLine;
using System.Globalization;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Training;
using Microsoft.ML.Data;
using Spectre.Console;

namespace Microsoft.ML.BGpt.Cli;

using Command = System.CommandLine.Command;

public static partial class BGptCli
{
    private static partial IEnumerable<Command> TrainingCommands(TextWriter stdout) => new[] { Pretrain(stdout), Train(stdout), Evaluate(stdout) };

    /// <summary>Labeled files from a CSV (path,label[,group]) or a folder whose sub-folders are the labels.</summary>
    private static IReadOnlyList<LabeledFile> Files(string data) =>
        File.Exists(data) ? BGptFiles.ListCsv(data) : BGptFiles.ListFolder(data);

    /// <summary>Pretraining needs no labels: a CSV as for training, or every file under a folder (flat or nested).</summary>
    private static IReadOnlyList<LabeledFile> UnlabeledFiles(string data) =>
        File.Exists(data) ? BGptFiles.ListCsv(data) : BGptFiles.ListFolder(data, LabelSource.None);

    private sealed record Shape(Option<int> PatchSize, Option<int> PatchLength, Option<int> Hidden, Option<int> PatchLayers, Option<int> ByteLayers,
        Option<int> BigramBuckets)
    {
        public static Shape Add(Command cmd)
        {
            var s = new Shape(
                new Option<int>("--patch-size") { Description = "Bytes per patch (from scratch).", DefaultValueFactory = _ => 16 },
                new Option<int>("--patch-length") { Description = "Patches per file, extension and end patches included (from scratch).", DefaultValueFactory = _ => 64 },
                new Option<int>("--hidden") { Description = "Hidden size (from scratch); heads = hidden / 64.", DefaultValueFactory = _ => 128 },
                new Option<int>("--patch-layers") { Description = "Patch-level decoder layers (from scratch).", DefaultValueFactory = _ => 2 },
                new Option<int>("--byte-layers") { Description = "Byte-level decoder layers (from scratch).", DefaultValueFactory = _ => 1 },
                new Option<int>("--bigram-buckets") { Description = "Hashed byte-bigram buckets added to the patch embedding, 0 for none as in the original (from scratch; not loadable by the original code).", DefaultValueFactory = _ => 0 });
            cmd.Options.Add(s.PatchSize); cmd.Options.Add(s.PatchLength); cmd.Options.Add(s.Hidden); cmd.Options.Add(s.PatchLayers); cmd.Options.Add(s.ByteLayers);
            cmd.Options.Add(s.BigramBuckets);
            return s;
        }

        public BGptConfig Config(ParseResult r) => BGptConfig.Create(r.GetValue(PatchSize), r.GetValue(PatchLength), r.GetValue(Hidden), r.GetValue(PatchLayers), r.GetValue(ByteLayers),
            bigramBuckets: r.GetValue(BigramBuckets));
    }

    private sealed record Schedule(Option<int> Epochs, Option<int> BatchSize, Option<double?> LearningRate, Option<int> Seed)
    {
        public static Schedule Add(Command cmd)
        {
            var s = new Schedule(
                new Option<int>("--epochs") { Description = "Epochs.", DefaultValueFactory = _ => 3 },
                new Option<int>("--batch-size") { Description = "Files per batch.", DefaultValueFactory = _ => 8 },
                new Option<double?>("--lr") { Description = "Peak learning rate (default: 1e-4 pretraining, 5e-5 fine-tuning)." },
                new Option<int>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 0 });
            cmd.Options.Add(s.Epochs); cmd.Options.Add(s.BatchSize); cmd.Options.Add(s.LearningRate); cmd.Options.Add(s.Seed);
            return s;
        }

        public void Apply(ParseResult r, BGptTrainingOptions o)
        {
            o.Epochs = r.GetValue(Epochs);
            o.BatchSize = r.GetValue(BatchSize);
            if (r.GetValue(LearningRate) is { } lr) o.LearningRate = lr;
            o.Seed = r.GetValue(Seed);
        }
    }

    /// <summary>Runs <paramref name="work"/> under a Spectre progress bar fed by training progress.</summary>
    private static T WithProgress<T>(string title, Func<IProgress<TrainingProgress>, T> work)
    {
        T result = default!;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(title);
                result = work(new Progress(p =>
                {
                    task.MaxValue = p.TotalSteps;
                    task.Value = p.Step;
                    task.Description = $"{title} epoch {p.Epoch} loss {p.Loss:F3}" + (p.ValidationAccuracy is { } a ? $" val acc {a:P1}" : "");
                }));
            });
        return result;
    }

    private sealed class Progress(Action<TrainingProgress> action) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => action(value);
    }

    private static Command Pretrain(TextWriter o)
    {
        var data = new Option<string>("--data") { Description = "A CSV of path,label[,group] or a folder of files (searched recursively; labels are not used).", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Checkpoint to write (the original's training-checkpoint .pth).", Required = true };
        var init = new Option<string?>("--weights", "-w") { Description = "Continue from this language-model checkpoint instead of random weights." };
        var cmd = new Command("pretrain", "Generative (next-byte) pretraining of a bGPT language model on files.") { data, output, init };
        var shape = Shape.Add(cmd);
        var schedule = Schedule.Add(cmd);
        cmd.SetAction(r =>
        {
            var ml = new MLContext(r.GetValue(schedule.Seed));
            var rows = ml.Data.LoadFromEnumerable(UnlabeledFiles(r.GetValue(data)!));
            var options = new BGptPretrainingOptions
            {
                Config = shape.Config(r), PretrainedWeights = r.GetValue(init), CheckpointPath = r.GetValue(output), SamplingKeyColumnName = nameof(LabeledFile.Group),
            };
            schedule.Apply(r, options);
            var estimator = ml.Transforms.PretrainBGpt(options);
            WithProgress("pretrain", p => { options.Progress = p; return ml.Transforms.LoadFileBytes().Append(estimator).Fit(rows); });
            foreach (var e in estimator.LastTrainingHistory!)
                o.WriteLine($"epoch {e.Epoch}: train loss {e.TrainLoss:F4}, validation bits/byte {e.BitsPerByte?.ToString("F4", CultureInfo.InvariantCulture) ?? "-"}{(e.IsBest ? " (best)" : "")}");
            o.WriteLine($"wrote {r.GetValue(output)}");
            return 0;
        });
        return cmd;
    }

    private static Command Train(TextWriter o)
    {
        var data = new Option<string>("--data")
        {
            Description = "Training files: a CSV of path,label[,group] (validation holds out whole groups) or a folder with one sub-folder per label.", Required = true,
        };
        var output = new Option<string>("--out", "-o") { Description = "The ML.NET model zip to write.", Required = true };
        var init = new Option<string?>("--weights", "-w") { Description = "Pretrained checkpoint (LM or classifier); without it the model starts from random weights." };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Also write the best classifier checkpoint here (the original's .pth)." };
        var cmd = new Command("train", "Fine-tune a bGPT classifier on labeled files and save an ML.NET model zip.") { data, output, init, checkpoint };
        var shape = Shape.Add(cmd);
        var schedule = Schedule.Add(cmd);
        cmd.SetAction(r =>
        {
            var ml = new MLContext(r.GetValue(schedule.Seed));
            var rows = ml.Data.LoadFromEnumerable(Files(r.GetValue(data)!));
            var options = new BGptClassifierOptions
            {
                Config = shape.Config(r), PretrainedWeights = r.GetValue(init), CheckpointPath = r.GetValue(checkpoint), SamplingKeyColumnName = nameof(LabeledFile.Group),
            };
            schedule.Apply(r, options);
            var trainer = ml.MulticlassClassification.Trainers.BGpt(options);
            var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.LoadFileBytes()).Append(trainer);
            var model = WithProgress("train", p => { options.Progress = p; return pipeline.Fit(rows); });
            var readable = model.Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(model.Transform(rows)));
            var target = r.GetValue(output)!;
            AtomicFile.Write(target, s => ml.Model.Save(readable, rows.Schema, s));
            foreach (var e in trainer.LastTrainingHistory!)
                o.WriteLine($"epoch {e.Epoch}: train loss {e.TrainLoss:F4}, validation accuracy {e.ValidationAccuracy?.ToString("P2", CultureInfo.InvariantCulture) ?? "-"}{(e.IsBest ? " (best)" : "")}");
            o.WriteLine($"wrote {target}");
            return 0;
        });
        return cmd;
    }

    private static Command Evaluate(TextWriter o)
    {
        var model = new Option<string>("--model", "-m") { Description = "A model zip written by 'bgpt train' (or any pipeline ending in MapKeyToValue(PredictedLabel)).", Required = true };
        var data = new Option<string>("--data") { Description = "Test files: a CSV of path,label[,group] or a folder with one sub-folder per label.", Required = true };
        var cmd = new Command("evaluate", "Accuracy, macro accuracy, log-loss and the confusion matrix of a saved classifier on labeled files.") { model, data };
        cmd.SetAction(r =>
        {
            var ml = new MLContext();
            var rows = ml.Data.LoadFromEnumerable(Files(r.GetValue(data)!));
            var loaded = ml.Model.Load(r.GetValue(model)!, out _);
            var scored = loaded.Transform(rows);
            // The saved pipeline ends with the predicted label as text; turn it back into the label's key to evaluate.
            var keyed = ml.Transforms.Conversion.MapValueToKey("PredictedLabelKey", "PredictedLabel", keyData: ml.Data.LoadFromEnumerable(LabelsOf(scored).Select(l => new LabelRow { PredictedLabel = l })))
                .Fit(scored).Transform(scored);
            var metrics = ml.MulticlassClassification.Evaluate(keyed, predictedLabelColumnName: "PredictedLabelKey");
            o.WriteLine($"accuracy:        {metrics.MicroAccuracy.ToString("P2", CultureInfo.InvariantCulture)}");
            o.WriteLine($"macro accuracy:  {metrics.MacroAccuracy.ToString("P2", CultureInfo.InvariantCulture)}");
            o.WriteLine($"log-loss:        {metrics.LogLoss.ToString("F4", CultureInfo.InvariantCulture)}");
            o.WriteLine($"labels (in key order): {string.Join(", ", LabelsOf(scored))}");
            o.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());
            return 0;
        });
        return cmd;
    }

    private sealed class LabelRow { public string PredictedLabel { get; set; } = ""; }

    private static IReadOnlyList<string> LabelsOf(IDataView scored)
    {
        VBuffer<ReadOnlyMemory<char>> values = default;
        scored.Schema["Label"].GetKeyValues(ref values);
        return values.DenseValues().Select(v => v.ToString()).ToList();
    }
}
