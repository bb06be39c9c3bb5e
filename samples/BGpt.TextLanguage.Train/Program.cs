// Model Builder-style training program: generative pretraining on the training bytes, fine-tuning, evaluation,
// saving the model zip, and a few predictions. Run from the repository root:
//   dotnet run -c Release --project samples/BGpt.TextLanguage.Train
// Options: --data <folder with train.csv/test.csv> (default samples/data/text-lang), --out <folder> (default samples/out),
//          --train-per-class N (default 0 = all), --epochs N (fine-tuning, default 8), --pretrain-epochs N (default 2).
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

// 2. A small bGPT for a CPU: 16-byte patches, 1 KB per file (head + tail), hidden 128, 2 + 1 layers.
var config = BGptConfig.Create(patchSize: 16, patchLength: 64, hiddenSize: 128, patchNumLayers: 2, byteNumLayers: 1);
Directory.CreateDirectory(arguments.Out);
var checkpoint = Path.Combine(arguments.Out, "pretrained-lm.pth");
File.Delete(checkpoint);

var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.LoadFileBytes("Bytes", "Path"))
    // Generative pretraining (next-byte prediction) on the training files, as the bGPT authors recommend.
    .Append(ml.Transforms.PretrainBGpt(new BGptPretrainingOptions
    {
        Config = config, Epochs = arguments.PretrainEpochs, BatchSize = 16, LearningRate = 2e-3, CheckpointPath = checkpoint,
        TrainTruncation = TruncationStrategy.RandomCrop, EvalTruncation = TruncationStrategy.HeadTail, Seed = 0,
        Progress = new ConsoleProgress("pretrain"),
    }))
    // Fine-tuning of the pretrained patch-level decoder with a classification head.
    .Append(ml.MulticlassClassification.Trainers.BGpt(new BGptClassifierOptions
    {
        PretrainedWeights = checkpoint, Epochs = arguments.Epochs, BatchSize = 16, LearningRate = 1e-3,
        TrainTruncation = TruncationStrategy.RandomCrop, EvalTruncation = TruncationStrategy.HeadTail, Seed = 0,
        Progress = new ConsoleProgress("fine-tune"),
    }));

Console.WriteLine("Training (pretraining, then fine-tuning)...");
var trained = pipeline.Fit(train);
Console.WriteLine($"Trained in {clock.Elapsed.TotalSeconds:F0} s.");

// 3. Evaluation on the held-out test split (PredictedLabel is still a key here, as Evaluate wants).
var scored = trained.Transform(test);
var metrics = ml.MulticlassClassification.Evaluate(scored);
var model = trained.Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(scored));
Console.WriteLine();
Console.WriteLine($"Test accuracy:  {metrics.MicroAccuracy:P1}  (macro {metrics.MacroAccuracy:P1}, log-loss {metrics.LogLoss:F3})");
Console.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());

// 4. Save: an ordinary ML.NET zip; apps that only predict need no TorchSharp (see BGpt.TextLanguage.Consume).
var zip = Path.Combine(arguments.Out, "text-lang-model.zip");
ml.Model.Save(model, train.Schema, zip);
Console.WriteLine($"Saved {zip} ({new FileInfo(zip).Length / 1024} KB); pretrained checkpoint: {checkpoint}.");

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
