// bGPT features + a classic ML.NET trainer (Model Builder style): featurize files with a pretrained bGPT checkpoint,
// train SdcaMaximumEntropy on the features, evaluate, save the zip. BGpt.TextLanguage.Consume loads and serves it.
//   dotnet run -c Release --project samples/BGpt.TextLanguage.Features [-- --weights lm.pth] [--pretrain-epochs 3]
// Without --weights, a small language model is pretrained on the training files first (a minute or two).
using Microsoft.ML;
using Microsoft.ML.BGpt;

var arguments = Args.Parse(args);
int at = Array.IndexOf(args, "--weights");
int pe = Array.IndexOf(args, "--pretrain-epochs");
int pretrainEpochs = pe >= 0 && pe + 1 < args.Length ? int.Parse(args[pe + 1], System.Globalization.CultureInfo.InvariantCulture) : 3;
var ml = new MLContext(seed: 0);
var trainRows = Args.Balanced(BGptFiles.ListCsv(Path.Combine(arguments.Data, "train.csv")), arguments.TrainPerClass);
var train = ml.Data.LoadFromEnumerable(trainRows);
var test = BGptFiles.FromCsv(ml, Path.Combine(arguments.Data, "test.csv"));
Directory.CreateDirectory(arguments.Out);

string weights = at >= 0 ? args[at + 1] : Path.Combine(arguments.Out, "features-lm.pth");
if (at < 0)
{
    Console.WriteLine($"Pretraining a small bGPT language model on {trainRows.Count} training files...");
    File.Delete(weights);
    ml.Transforms.LoadFileBytes().Append(ml.Transforms.PretrainBGpt(new BGptPretrainingOptions
    {
        Config = BGptConfig.Create(patchSize: 16, patchLength: 64, hiddenSize: 128, patchNumLayers: 2, byteNumLayers: 1),
        Epochs = pretrainEpochs, BatchSize = 16, LearningRate = 2e-3, CheckpointPath = weights, Seed = 0,
        Progress = new ConsoleProgress("pretrain"),
    })).Fit(train);
}

// Featurize (ONNX Runtime) and train a linear model on the features.
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.LoadFileBytes("Bytes", "Path"))
    .Append(ml.Transforms.FeaturizeBGpt(new BGptFeaturizerOptions { CheckpointPath = weights, Truncation = TruncationStrategy.HeadTail }))
    .Append(ml.Transforms.NormalizeMeanVariance("Features"))
    .AppendCacheCheckpoint(ml)   // featurize once, not once per trainer pass
    .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy("Label", "Features"));
Console.WriteLine($"Featurizing with {weights} and training SdcaMaximumEntropy...");
var trained = pipeline.Fit(train);

var metrics = ml.MulticlassClassification.Evaluate(trained.Transform(test));
Console.WriteLine($"Test accuracy: {metrics.MicroAccuracy:P1} (macro {metrics.MacroAccuracy:P1}, log-loss {metrics.LogLoss:F3})");

var model = trained.Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(trained.Transform(test)));
var zip = Path.Combine(arguments.Out, "text-lang-features-model.zip");
ml.Model.Save(model, train.Schema, zip);
Console.WriteLine($"Saved {zip}. Try: dotnet run -c Release --project samples/BGpt.TextLanguage.Consume -- {zip} <files>");
