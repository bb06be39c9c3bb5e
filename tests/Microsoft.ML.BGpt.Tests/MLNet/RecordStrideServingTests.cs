using FluentAssertions;
using Microsoft.ML;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>Models with a patch size that does not divide 4096 (a record stride, as Auto picks for images) serve through FeaturizeBGpt.</summary>
[Collection(Training.TorchGlobalState.Name)]
public class RecordStrideServingTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgpt-stride-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public sealed class Row { public string Path { get; set; } = ""; }
    public sealed class Features { public float[] BGptFeatures { get; set; } = Array.Empty<float>(); }

    [Fact]
    public void A_28_byte_patch_model_featurizes_like_the_TorchSharp_model()
    {
        var config = BGptConfig.Create(patchSize: 28, patchLength: 20, hiddenSize: 32, patchNumLayers: 1, byteNumLayers: 1);
        manual_seed(11);
        using var lm = new BGptLMHeadModel(config);
        lm.eval();
        var checkpoint = Path.Combine(_dir, "lm.pth");
        BGptModels.ToCheckpoint(lm).Save(checkpoint, CheckpointFormat.StateDict);

        var random = new Random(3);
        var rows = new[] { 0, 27, 28, 300, 540, 2000 }.Select(length =>
        {
            var path = Path.Combine(_dir, $"f{length}");
            var bytes = new byte[length];
            random.NextBytes(bytes);
            File.WriteAllBytes(path, bytes);
            return new Row { Path = path };
        }).ToList();
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.LoadFileBytes("Bytes", "Path")
            .Append(ml.Transforms.FeaturizeBGpt(new BGptFeaturizerOptions { CheckpointPath = checkpoint, OutputColumnName = "BGptFeatures", Threads = 1 }))
            .Fit(data);
        var served = ml.Data.CreateEnumerable<Features>(model.Transform(data), reuseRowObject: false).ToList();

        double worst = 0;
        using var classifier = BGptModels.ClassifierFromPretrained(BGptModels.ToCheckpoint(lm), 2);
        classifier.eval();
        foreach (var (row, f) in rows.Zip(served))
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var tokens = ByteEncoder.Encode(File.ReadAllBytes(row.Path), ReadOnlySpan<byte>.Empty, config).Select(t => (long)t).ToArray();
            var expected = classifier.Features(tensor(tokens).unsqueeze(0)).data<float>().ToArray();
            f.BGptFeatures.Should().HaveCount(32);
            double error = f.BGptFeatures.Zip(expected).Max(p => Math.Abs(p.First - p.Second));
            error.Should().BeLessThan(1e-4, row.Path);
            worst = Math.Max(worst, error);
        }
        output.WriteLine($"28-byte patches through FeaturizeBGpt vs TorchSharp: max abs error {worst:E2}");
    }
}
