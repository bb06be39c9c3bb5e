using FluentAssertions;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>LoadFileBytes + FeaturizeBGpt + ScoreBitsPerByte in ML.NET pipelines, against the original's outputs.</summary>
public class FeaturizerTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgpt-mlnet-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public sealed class PathRow { public string Path { get; set; } = ""; }
    public sealed class FeatureRow { public float[] Features { get; set; } = Array.Empty<float>(); public float[] BitsPerByte { get; set; } = Array.Empty<float>(); }

    // Cases whose expected values come straight from the fixtures (case 11 is our documented no-extension deviation).
    private static readonly string[] Cases = { "00", "01", "04", "05", "07", "09", "10", "12", "13" };

    private static List<PathRow> Rows() => Cases.Select(id => new PathRow { Path = ReferenceFixtures.PathOf(ReferenceFixtures.Case(id).GetProperty("input").GetString()!) }).ToList();

    private static IEstimator<ITransformer> Pipeline(MLContext ml) =>
        ml.Transforms.LoadFileBytes("Bytes", "Path")
            .Append(ml.Transforms.FeaturizeBGpt(ReferenceFixtures.PathOf("lm.pth")))
            .Append(ml.Transforms.ScoreBitsPerByte(ReferenceFixtures.PathOf("lm.pth")));

    private void CheckAgainstFixtures(IEnumerable<FeatureRow> rows)
    {
        double maxFeature = 0, maxLoss = 0;
        foreach (var (row, id) in rows.Zip(Cases))
        {
            var pooled = ReferenceFixtures.Floats($"cases/{id}/pooled.npy");
            row.Features.Should().HaveCount(128);
            maxFeature = Math.Max(maxFeature, row.Features.Zip(pooled, (a, b) => (double)Math.Abs(a - b)).Max());
            double loss = row.BitsPerByte.Single() * Math.Log(2), expected = ReferenceFixtures.Floats($"cases/{id}/lm_loss.npy")[0];
            maxLoss = Math.Max(maxLoss, Math.Abs(loss - expected) / expected);
        }
        maxFeature.Should().BeLessThan(1e-4);
        maxLoss.Should().BeLessThan(1e-5);
        output.WriteLine($"features max abs error {maxFeature:E2}; loss max relative error {maxLoss:E2}");
    }

    [Fact]
    public void Features_and_bits_per_byte_match_the_original_and_survive_save_and_load()
    {
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable(Rows());
        var model = Pipeline(ml).Fit(data);
        var transformed = model.Transform(data);
        transformed.Schema["Features"].Type.Should().BeOfType<VectorDataViewType>().Which.Size.Should().Be(128);
        var before = ml.Data.CreateEnumerable<FeatureRow>(transformed, reuseRowObject: false).ToList();
        CheckAgainstFixtures(before);

        var zip = Path.Combine(_dir, "model.zip");
        ml.Model.Save(model, data.Schema, zip);
        var fresh = new MLContext();
        var loaded = fresh.Model.Load(zip, out var schema);
        var after = fresh.Data.CreateEnumerable<FeatureRow>(loaded.Transform(fresh.Data.LoadFromEnumerable(Rows())), reuseRowObject: false).ToList();
        after.Select(r => r.Features).Should().BeEquivalentTo(before.Select(r => r.Features), o => o.WithStrictOrdering());

        var engine = fresh.Model.CreatePredictionEngine<PathRow, FeatureRow>(loaded);
        engine.Predict(Rows()[3]).Features.Should().Equal(before[3].Features);
    }

    [Fact]
    public void Missing_or_mistyped_columns_are_named()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(Rows());
        var noBytes = () => ml.Transforms.FeaturizeBGpt(ReferenceFixtures.PathOf("lm.pth")).Fit(data);
        noBytes.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*'Bytes' not found*vector of Byte*");

        var wrongType = () => ml.Transforms.FeaturizeBGpt(ReferenceFixtures.PathOf("lm.pth"), bytesColumnName: "Path").Fit(data);
        wrongType.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*'Path' has type String*vector of Byte*");

        var noPath = () => ml.Transforms.LoadFileBytes("Bytes", "File").Fit(data);
        noPath.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*'File' not found*");
    }

    [Fact]
    public void A_missing_file_is_named_and_a_classifier_is_refused_for_bits_per_byte()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = Path.Combine(_dir, "gone.bin") } });
        var model = ml.Transforms.LoadFileBytes().Fit(data);
        var read = () => model.Transform(data).Preview();
        // ML.NET may wrap what the mapping throws; somewhere in the chain is the typed error naming the file.
        static IEnumerable<Exception> Chain(Exception? e) { for (; e is not null; e = e.InnerException) yield return e; }
        var missing = Chain(read.Should().Throw<Exception>().Which).OfType<FileNotFoundException>().FirstOrDefault();
        missing.Should().NotBeNull("a missing file is a FileNotFoundException");
        missing!.FileName.Should().EndWith("gone.bin");
        missing.Message.Should().StartWith("Cannot read file").And.Contain("gone.bin");

        var bytes = model.Transform(ml.Data.LoadFromEnumerable(Rows()));
        var cls = () => ml.Transforms.ScoreBitsPerByte(ReferenceFixtures.PathOf("cls.pth")).Fit(bytes);
        cls.Should().Throw<Checkpoints.BGptCheckpointException>().WithMessage("*cls.pth*language-model*");
    }
}
