// Model Builder-style consumption: load the zip written by BGpt.TextLanguage.Train and predict files.
//   dotnet run -c Release --project samples/BGpt.TextLanguage.Consume -- samples/out/text-lang-model.zip <files...>
// This app references Microsoft.ML.BGpt only (ONNX Runtime inside ML.NET); it needs no TorchSharp.
using Microsoft.ML;
using Microsoft.ML.BGpt;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: BGpt.TextLanguage.Consume <model.zip> <file> [<file> ...]");
    return 2;
}

var ml = new MLContext();
// No registration call: the zip records the assembly of bGPT's file loader, and ML.NET loads it.
var model = ml.Model.Load(args[0], out _);
var engine = ml.Model.CreatePredictionEngine<FileInput, FilePrediction>(model);
foreach (var path in args.Skip(1))
{
    var prediction = engine.Predict(new FileInput { Path = path });
    Console.WriteLine($"{path}\t{prediction.PredictedLabel}\t{prediction.Score.Max():F4}");
}
return 0;

/// <summary>What the app knows about a file: its path.</summary>
public sealed class FileInput
{
    public string Path { get; set; } = "";
    public string Label { get; set; } = "";
    public string Group { get; set; } = "";
}

/// <summary>What the model adds.</summary>
public sealed class FilePrediction
{
    public string PredictedLabel { get; set; } = "";
    public float[] Score { get; set; } = Array.Empty<float>();
}
