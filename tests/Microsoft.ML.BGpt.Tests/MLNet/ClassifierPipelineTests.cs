using FluentAssertions;
using Microsoft.ML;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.MLNet;
using Microsoft.ML.BGpt.Onnx;
using Microsoft.ML.Data;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>The serving pipeline of a bGPT classifier: ONNX scores, key-typed predictions, Evaluate, save/load.</summary>
public class ClassifierPipelineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgpt-cls-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public sealed class Row { public string Path { get; set; } = ""; public string Label { get; set; } = ""; }
    public sealed class LabelOnly { public string Label { get; set; } = ""; }
    public sealed class Prediction { public float[] Score { get; set; } = Array.Empty<float>(); public string PredictedLabel { get; set; } = ""; }

    private static readonly string[] Cases = { "00", "01", "04", "05", "07", "09", "10", "13" };

    [Fact]
    public void Scores_predictions_and_metrics_follow_the_original_logits()
    {
        var ml = new MLContext(seed: 0);
        var checkpoint = BGptCheckpoint.Load(ReferenceFixtures.PathOf("cls.pth"));
        var labels = checkpoint.Labels!;
        var onnx = BGptOnnxExporter.Export(checkpoint.Weights, checkpoint.Config, new BGptOnnxOptions { Head = OnnxHead.Classifier });
        // Ground truth chosen so that some rows are right and some wrong.
        var rows = Cases.Select((id, i) => new Row { Path = ReferenceFixtures.PathOf(ReferenceFixtures.Case(id).GetProperty("input").GetString()!), Label = labels[i % 3] }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var keyData = ml.Data.LoadFromEnumerable(labels.Select(l => new LabelOnly { Label = l }));

        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", keyData: keyData)
            .Append(ml.Transforms.LoadFileBytes("Bytes", "Path"))
            .Append(ClassifierPipeline.Multiclass(ml.Transforms, onnx, labels, "Bytes", "Extension"))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var model = pipeline.Fit(data);
        var scored = model.Transform(data);
        var predictions = ml.Data.CreateEnumerable<Prediction>(scored, reuseRowObject: false).ToList();

        int correct = 0;
        var perClass = new Dictionary<string, (int Right, int Total)>();
        foreach (var (p, (id, row)) in predictions.Zip(Cases.Zip(rows)))
        {
            var logits = ReferenceFixtures.Floats($"cases/{id}/cls_logits.npy");
            var expected = Softmax(logits);
            p.Score.Zip(expected, (a, b) => Math.Abs(a - b)).Max().Should().BeLessThan(1e-5f);
            var best = labels[Array.IndexOf(logits, logits.Max())];
            p.PredictedLabel.Should().Be(best);
            if (best == row.Label) correct++;
            var (right, total) = perClass.GetValueOrDefault(row.Label);
            perClass[row.Label] = (right + (best == row.Label ? 1 : 0), total + 1);
        }

        var metrics = ml.MulticlassClassification.Evaluate(pipelineWithoutKeyToValue(ml, data, onnx, labels, keyData));
        metrics.MacroAccuracy.Should().BeApproximately(perClass.Values.Average(c => (double)c.Right / c.Total), 1e-9, "the mean of the classes' recalls");
        metrics.MicroAccuracy.Should().BeApproximately((double)correct / rows.Count, 1e-9);

        var zip = Path.Combine(_dir, "cls.zip");
        ml.Model.Save(model, data.Schema, zip);
        var fresh = new MLContext();
        var loaded = fresh.Model.Load(zip, out _);
        var engine = fresh.Model.CreatePredictionEngine<Row, Prediction>(loaded);
        engine.Predict(rows[3]).PredictedLabel.Should().Be(predictions[3].PredictedLabel);
        engine.Predict(rows[3]).Score.Should().Equal(predictions[3].Score);
    }

    private static IDataView pipelineWithoutKeyToValue(MLContext ml, IDataView data, byte[] onnx, IReadOnlyList<string> labels, IDataView keyData) =>
        ml.Transforms.Conversion.MapValueToKey("Label", keyData: keyData)
            .Append(ml.Transforms.LoadFileBytes("Bytes", "Path"))
            .Append(ClassifierPipeline.Multiclass(ml.Transforms, onnx, labels, "Bytes", "Extension"))
            .Fit(data).Transform(data);

    private static float[] Softmax(float[] x)
    {
        var e = x.Select(v => Math.Exp(v - x.Max())).ToArray();
        return e.Select(v => (float)(v / e.Sum())).ToArray();
    }
}
