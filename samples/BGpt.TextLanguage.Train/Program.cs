// Model Builder-style training program: bGPT's Auto trainer (reads the data and a time budget, pretrains on the training
// bytes, fine-tunes), evaluation, saving the model zip, and a few predictions. Run from the repository root:
//   dotnet run -c Release --project samples/BGpt.TextLanguage.Train
// Options: --data <folder with train.csv/test.csv> (default samples/data/text-lang), --out <folder> (default samples/out),
//          --train-per-class N (default 0 = all), --minutes M (training-time budget, default 5).
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.BGpt;
using Microsoft.ML.Data;

var arguments = Args.Parse(args);
var ml = new MLContext(seed: 0);
var clock = Stopwatch.StartNew();

// 1. Data: a CSV of path,label[,group] per split; paths are relative to the CSV's folder.
var trainRows = Args.Balanced(BGptFiles.ListCsv(Path.Combine(arguments.Data, "train.csv")), arguments.TrainPerClass);
var testRows = BGptFiles.ListCsv(Path.Combine(arguments.Data, "test.csv"));
var train = ml.Data.LoadFromEnumerable(trainRows);
var test = ml.Data.LoadFromEnumerable(testRows);
Console.WriteLine($"Data: {trainRows.Count} training files, {testRows.Count} test files, {trainRows.Select(r => r.Label).Distinct().Count()} classes ({arguments.Data}).");

// 2. bGPT with no tuning: the Auto trainer chooses the window, patch and model size from the training files, measures
//    this machine's speed, pretrains on the training bytes (next-byte prediction, as the bGPT authors recommend) and
//    fine-tunes, each within its share of the time budget. Validation is split off the training files (whole sources).
Directory.CreateDirectory(arguments.Out);
var checkpoint = Path.Combine(arguments.Out, "pretrained-lm.pth");
var trainer = ml.MulticlassClassification.Trainers.BGptAuto(new BGptAutoClassifierOptions
{
    TrainingTime = TimeSpan.FromMinutes(arguments.Minutes), PretrainedCheckpointPath = checkpoint, Progress = new ConsoleProgress("train"),
    // The CSV's third column names each snippet's source document: validation holds out whole sources, so the
    // validation accuracy printed while training is what documents it never saw will get.
    SamplingKeyColumnName = nameof(LabeledFile.Group),
});
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.LoadFileBytes("Bytes", "Path"))
    .Append(trainer);

Console.WriteLine($"Training (Auto, {arguments.Minutes:0.#} minutes: pretraining, then fine-tuning)...");
var trained = pipeline.Fit(train);
Console.WriteLine($"Recipe: {trainer.LastRecipe!.Rationale}");
Console.WriteLine($"Trained in {clock.Elapsed.TotalSeconds:F0} s.");

// 3. Evaluation on the held-out test split (PredictedLabel is still a key here, as Evaluate wants).
var scored = trained.Transform(test);
var metrics = ml.MulticlassClassification.Evaluate(scored);
var model = trained.Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(scored));
Console.WriteLine();
Console.WriteLine($"Test accuracy:  {metrics.MicroAccuracy:P1}  (macro {metrics.MacroAccuracy:P1}, log-loss {metrics.LogLoss:F3})");
Console.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());

// 4. Save: an ordinary ML.NET zip; apps that only predict need no TorchSharp (see BGpt.TextLanguage.Consume).
// Written next to the old zip, then moved over it: an interrupted save leaves the last good model in place.
var zip = Path.Combine(arguments.Out, "text-lang-model.zip");
ml.Model.Save(model, train.Schema, zip + ".tmp");
File.Move(zip + ".tmp", zip, overwrite: true);
bool pretrained = trainer.LastRecipe!.Pretraining is not null; // else the checkpoint file, if any, is an earlier run's
Console.WriteLine($"Saved {zip} ({new FileInfo(zip).Length / 1024} KB){(pretrained ? $"; pretrained checkpoint: {checkpoint}" : "")}.");

// 5. Predict a few test files with a PredictionEngine, as an app would.
var engine = ml.Model.CreatePredictionEngine<LabeledFile, LanguagePrediction>(model);
foreach (var row in testRows.Take(5))
{
    var p = engine.Predict(row);
    Console.WriteLine($"  {Path.GetFileName(row.Path)}: predicted {p.PredictedLabel} ({p.Score.Max():P0}), actual {row.Label}");
}
Console.WriteLine($"Done in {clock.Elapsed.TotalSeconds:F0} s.");

/// <summary>What the model adds to a row.</summary>
public sealed class LanguagePrediction
{
    public string PredictedLabel { get; set; } = "";
    public float[] Score { get; set; } = Array.Empty<float>();
}
