using FluentAssertions;
using Microsoft.ML;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Onnx;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>FeaturizeBGpt and ScoreBitsPerByte serve a graph exported ahead of time exactly like the checkpoint.</summary>
public class ExportedGraphServingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgpt-exported-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public sealed class PathRow { public string Path { get; set; } = ""; }
    public sealed class Out { public float[] Features { get; set; } = Array.Empty<float>(); public float[] BitsPerByte { get; set; } = Array.Empty<float>(); }

    [Fact]
    public void An_exported_onnx_file_gives_the_checkpoints_values()
    {
        var checkpoint = BGptCheckpoint.Load(ReferenceFixtures.PathOf("lm.pth"));
        var features = Path.Combine(_dir, "features.onnx");
        var bpb = Path.Combine(_dir, "bpb.onnx");
        BGptOnnxExporter.Export(checkpoint.Weights, checkpoint.Config, features, new BGptOnnxOptions { Head = OnnxHead.Features, Truncation = TruncationStrategy.HeadTail });
        BGptOnnxExporter.Export(checkpoint.Weights, checkpoint.Config, bpb, new BGptOnnxOptions { Head = OnnxHead.BitsPerByte, Truncation = TruncationStrategy.HeadTail });

        var ml = new MLContext(seed: 0);
        var rows = new[] { "05", "07", "00" }.Select(id => new PathRow { Path = ReferenceFixtures.PathOf(ReferenceFixtures.Case(id).GetProperty("input").GetString()!) }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        List<Out> Run(string f, string b) => ml.Data.CreateEnumerable<Out>(ml.Transforms.LoadFileBytes()
            .Append(ml.Transforms.FeaturizeBGpt(new BGptFeaturizerOptions { CheckpointPath = f, Truncation = TruncationStrategy.HeadTail }))
            .Append(ml.Transforms.ScoreBitsPerByte(new BGptBitsPerByteOptions { CheckpointPath = b, Truncation = TruncationStrategy.HeadTail }))
            .Fit(data).Transform(data), false).ToList();
        var fromCheckpoint = Run(ReferenceFixtures.PathOf("lm.pth"), ReferenceFixtures.PathOf("lm.pth"));
        var fromGraphs = Run(features, bpb);
        fromGraphs.Select(r => r.Features).Should().BeEquivalentTo(fromCheckpoint.Select(r => r.Features), o => o.WithStrictOrdering());
        fromGraphs.Select(r => r.BitsPerByte).Should().BeEquivalentTo(fromCheckpoint.Select(r => r.BitsPerByte), o => o.WithStrictOrdering());

        var missing = () => ml.Transforms.FeaturizeBGpt(Path.Combine(_dir, "gone.onnx")).Fit(ml.Transforms.LoadFileBytes().Fit(data).Transform(data));
        missing.Should().Throw<FileNotFoundException>().WithMessage("*gone.onnx*");
    }
}
