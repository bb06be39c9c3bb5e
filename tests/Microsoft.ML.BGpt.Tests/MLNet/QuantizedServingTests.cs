using FluentAssertions;
using Microsoft.ML;
using Xunit;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>The opt-in int8 serving path: close to fp32, and it saves and loads like any model.</summary>
public class QuantizedServingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgpt-int8-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public sealed class PathRow { public string Path { get; set; } = ""; }
    public sealed class Out { public float[] Features { get; set; } = Array.Empty<float>(); public float[] BitsPerByte { get; set; } = Array.Empty<float>(); }

    private static double Cosine(float[] a, float[] b) =>
        a.Zip(b, (x, y) => (double)x * y).Sum() / Math.Sqrt(a.Sum(x => (double)x * x) * b.Sum(x => (double)x * x));

    [Fact]
    public void Int8_features_and_bits_per_byte_stay_close_to_fp32_and_save()
    {
        var ml = new MLContext(seed: 0);
        var rows = new[] { "05", "07", "06", "13" }.Select(id => new PathRow { Path = ReferenceFixtures.PathOf(ReferenceFixtures.Case(id).GetProperty("input").GetString()!) }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        IEstimator<ITransformer> Pipeline(bool quantize) => ml.Transforms.LoadFileBytes()
            .Append(ml.Transforms.FeaturizeBGpt(new BGptFeaturizerOptions { CheckpointPath = ReferenceFixtures.PathOf("lm.pth"), Quantize = quantize }))
            .Append(ml.Transforms.ScoreBitsPerByte(new BGptBitsPerByteOptions { CheckpointPath = ReferenceFixtures.PathOf("lm.pth"), Quantize = quantize }));
        var fp32 = ml.Data.CreateEnumerable<Out>(Pipeline(false).Fit(data).Transform(data), false).ToList();
        var int8Model = Pipeline(true).Fit(data);
        var int8 = ml.Data.CreateEnumerable<Out>(int8Model.Transform(data), false).ToList();
        foreach (var (a, b) in fp32.Zip(int8))
        {
            Cosine(a.Features, b.Features).Should().BeGreaterThan(0.999);
            a.Features.Should().NotEqual(b.Features, "the int8 graph really is a different graph");
            Math.Abs(a.BitsPerByte[0] - b.BitsPerByte[0]).Should().BeLessThan(0.01f * a.BitsPerByte[0]);
        }
        var zip = Path.Combine(_dir, "int8.zip");
        ml.Model.Save(int8Model, data.Schema, zip);
        var fresh = new MLContext();
        var loaded = fresh.Model.Load(zip, out _);
        fresh.Data.CreateEnumerable<Out>(loaded.Transform(fresh.Data.LoadFromEnumerable(rows)), false).Select(r => r.Features)
            .Should().BeEquivalentTo(int8.Select(r => r.Features), o => o.WithStrictOrdering());
    }
}
