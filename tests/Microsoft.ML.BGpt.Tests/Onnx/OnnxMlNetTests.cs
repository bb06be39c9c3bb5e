using FluentAssertions;
using Microsoft.ML.BGpt.Onnx;
using Microsoft.ML.Data;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>The exported graph through ML.NET's ApplyOnnxModel, one variable-length row at a time.</summary>
public class OnnxMlNetTests
{
    private sealed class FileRow
    {
        [VectorType] public byte[] bytes { get; set; } = [];
        [VectorType] public byte[] extension { get; set; } = [];
    }

    private sealed class Prediction
    {
        [VectorType] public float[] features { get; set; } = [];
        [VectorType] public float[] probabilities { get; set; } = [];
    }

    [Fact]
    public void ApplyOnnxModel_scores_variable_length_files()
    {
        var ids = new[] { "00", "05", "07", "12" };
        var rows = ids.Select(id =>
        {
            var path = ReferenceFixtures.PathOf(ReferenceFixtures.Case(id).GetProperty("input").GetString()!);
            return new FileRow { bytes = File.ReadAllBytes(path), extension = ByteEncoder.ExtensionBytes(ByteEncoder.ExtensionOf(path), 16) };
        }).ToList();

        var dir = Directory.CreateTempSubdirectory("bgpt-mlnet-");
        try
        {
            var modelPath = Path.Combine(dir.FullName, "classifier.onnx");
            BGptOnnxExporter.Export(FixtureModels.StateDict("cls.pth"), ReferenceFixtures.Config, modelPath, BGptOnnxOptions.For(OnnxHead.Classifier));
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(rows);
            var pipeline = ml.Transforms.ApplyOnnxModel(
                outputColumnNames: [BGptOnnxExporter.FeaturesOutput, BGptOnnxExporter.ProbabilitiesOutput],
                inputColumnNames: [BGptOnnxExporter.BytesInput, BGptOnnxExporter.ExtensionInput], modelFile: modelPath);
            using var transformer = pipeline.Fit(data);
            var predictions = ml.Data.CreateEnumerable<Prediction>(transformer.Transform(data), reuseRowObject: false).ToList();

            predictions.Should().HaveCount(ids.Length);
            for (int i = 0; i < ids.Length; i++)
            {
                var pooled = ReferenceFixtures.Floats($"cases/{ids[i]}/pooled.npy");
                predictions[i].features.Should().HaveCount(pooled.Length);
                predictions[i].features.Zip(pooled, (a, b) => Math.Abs(a - b)).Max().Should().BeLessThan(1e-4f, $"features of case {ids[i]}");
                var logits = ReferenceFixtures.Floats($"cases/{ids[i]}/cls_logits.npy");
                var softmax = logits.Select(x => Math.Exp(x - logits.Max())).ToArray();
                predictions[i].probabilities.Select((p, j) => Math.Abs(p - softmax[j] / softmax.Sum())).Max().Should().BeLessThan(1e-5);
            }
        }
        finally { dir.Delete(recursive: true); }
    }
}
