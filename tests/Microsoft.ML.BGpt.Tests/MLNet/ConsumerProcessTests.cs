using System.Diagnostics;
using FluentAssertions;
using Microsoft.ML;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>
/// A model trained here loads and predicts in another process whose app references only the inference package
/// (samples/BGpt.TextLanguage.Consume): no TorchSharp, no registration call.
/// </summary>
[Collection(Training.TorchGlobalState.Name)]
public class ConsumerProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgpt-consume-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public sealed class Prediction { public string PredictedLabel { get; set; } = ""; public float[] Score { get; set; } = Array.Empty<float>(); }

    private static string ConsumerDll()
    {
        // tests/Microsoft.ML.BGpt.Tests/bin/<Configuration>/net10.0 -> samples/BGpt.TextLanguage.Consume/bin/<Configuration>/net10.0
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = output.Parent!.Name;
        var root = output.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        return Path.Combine(root, "samples", "BGpt.TextLanguage.Consume", "bin", configuration, output.Name, "BGpt.TextLanguage.Consume.dll");
    }

    [Fact]
    public void A_saved_classifier_predicts_the_same_in_a_process_without_TorchSharp()
    {
        var consumer = ConsumerDll();
        File.Exists(consumer).Should().BeTrue($"the consumer sample is built with the tests ({consumer})");
        var deps = File.ReadAllText(Path.ChangeExtension(consumer, ".deps.json"));
        deps.Should().NotContain("TorchSharp").And.NotContain("libtorch");
        Directory.GetFiles(Path.GetDirectoryName(consumer)!, "*torch*", SearchOption.AllDirectories).Should().BeEmpty();

        // Toy files on disk, trained through LoadFileBytes so the zip starts from paths.
        var rows = TrainerTests.Toy(60, 7).Select((r, i) =>
        {
            var path = Path.Combine(_dir, $"file{i}.dat");
            File.WriteAllBytes(path, r.Bytes);
            return new LabeledFile { Path = path, Label = r.Label };
        }).ToList();
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable(rows);
        var options = new BGptClassifierOptions { Config = TrainerTests.Tiny, Epochs = 4, LearningRate = 3e-3, Seed = 1, Threads = 1 };
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadFileBytes("Bytes", "Path"))
            .Append(ml.MulticlassClassification.Trainers.BGpt(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(data);
        var zip = Path.Combine(_dir, "model.zip");
        ml.Model.Save(model, data.Schema, zip);
        var expected = ml.Data.CreateEnumerable<Prediction>(model.Transform(data), reuseRowObject: false).Take(6).ToList();

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(consumer);
        start.ArgumentList.Add(zip);
        foreach (var row in rows.Take(6)) start.ArgumentList.Add(row.Path);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        process.ExitCode.Should().Be(0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().HaveCount(6);
        foreach (var (line, p) in lines.Zip(expected))
        {
            var fields = line.Split('\t');
            fields[1].Should().Be(p.PredictedLabel);
            float.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture).Should().BeApproximately(p.Score.Max(), 1e-4f);
        }
    }
}
