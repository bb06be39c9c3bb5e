using FluentAssertions;
using Microsoft.ML;
using Microsoft.ML.BGpt.MLNet;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>FeaturizeBGpt's pooling and window mean, and LoadFileBytes' head reading, end to end through ML.NET.</summary>
public class FeaturizerOptionsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgpt-featopts-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public sealed class PathRow { public string Path { get; set; } = ""; }
    public sealed class FeatureRow
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public float[] LastFeatures { get; set; } = Array.Empty<float>();
    }

    private static string Lm => ReferenceFixtures.PathOf("lm.pth");

    /// <summary>Random files around the window size (480 bytes here), past the 128 KiB ends reader and past 1 MiB.</summary>
    private List<PathRow> Files(params (int Length, string Name)[] files)
    {
        var random = new Random(123);
        return files.Select(f =>
        {
            var path = Path.Combine(_dir, f.Name);
            var bytes = new byte[f.Length];
            random.NextBytes(bytes);
            File.WriteAllBytes(path, bytes);
            return new PathRow { Path = path };
        }).ToList();
    }

    private static byte[] Extension(string path) => ByteEncoder.ExtensionBytes(ByteEncoder.ExtensionOf(path), ReferenceFixtures.Config.PatchSize);

    private static byte[] Head(string path, int maxBytes)
    {
        var all = File.ReadAllBytes(path);
        return all.Length <= maxBytes ? all : all[..maxBytes];
    }

    [Fact]
    public void Window_mean_over_the_file_head_matches_the_reference_and_survives_save_and_load()
    {
        var rows = Files((0, "empty.txt"), (100, "a.bin"), (480, "b.txt"), (481, "c"), (5000, "d.dat"), (200_000, "e.bin"), (1_100_000, "f.log"));
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable(rows);
        var pipeline = ml.Transforms.LoadFileBytes("Bytes", "Path", maxBytes: 1 << 20)
            .Append(ml.Transforms.FeaturizeBGpt(new BGptFeaturizerOptions { CheckpointPath = Lm, LongFiles = LongFileStrategy.WindowMean, Threads = 1 }))
            .Append(ml.Transforms.FeaturizeBGpt(new BGptFeaturizerOptions
            {
                CheckpointPath = Lm, OutputColumnName = "LastFeatures", Pooling = FeaturePooling.LastPatch,
                LongFiles = LongFileStrategy.WindowMean, MaxWindows = 3,
            }));
        var model = pipeline.Fit(data);
        var before = ml.Data.CreateEnumerable<FeatureRow>(model.Transform(data), reuseRowObject: false).ToList();

        double worstMean = 0, worstLast = 0;
        foreach (var (row, file) in before.Zip(rows))
        {
            var content = Head(file.Path, 1 << 20);
            var mean = FeatureReference.MaxAbs(row.Features, FeatureReference.WindowMean(content, Extension(file.Path), FeaturePooling.Mean, 16));
            var last = FeatureReference.MaxAbs(row.LastFeatures, FeatureReference.WindowMean(content, Extension(file.Path), FeaturePooling.LastPatch, 3));
            mean.Should().BeLessThan(1e-4, file.Path);
            last.Should().BeLessThan(1e-4, file.Path);
            (worstMean, worstLast) = (Math.Max(worstMean, mean), Math.Max(worstLast, last));
        }
        output.WriteLine($"window mean through ML.NET: max abs error mean pooling (16 windows) {worstMean:E2}, last patch (3 windows) {worstLast:E2}");

        var zip = Path.Combine(_dir, "model.zip");
        ml.Model.Save(model, data.Schema, zip);
        var fresh = new MLContext();
        var loaded = fresh.Model.Load(zip, out _);
        var after = fresh.Data.CreateEnumerable<FeatureRow>(loaded.Transform(fresh.Data.LoadFromEnumerable(rows)), reuseRowObject: false).ToList();
        for (int i = 0; i < rows.Count; i++)
        {
            after[i].Features.Should().Equal(before[i].Features);
            after[i].LastFeatures.Should().Equal(before[i].LastFeatures);
        }
    }

    [Fact]
    public void Last_patch_pooling_with_truncation_matches_the_reference()
    {
        var rows = Files((10, "a.txt"), (481, "b.bin"), (200_000, "c.dat"));
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.LoadFileBytes("Bytes", "Path")
            .Append(ml.Transforms.FeaturizeBGpt(new BGptFeaturizerOptions
            {
                CheckpointPath = Lm, Pooling = FeaturePooling.LastPatch, Truncation = TruncationStrategy.HeadTail, Threads = 1,
            })).Fit(data);
        var features = ml.Data.CreateEnumerable<FeatureRow>(model.Transform(data), reuseRowObject: false, ignoreMissingColumns: true).Select(r => r.Features).ToList();
        double worst = 0;
        foreach (var (f, file) in features.Zip(rows))
        {
            var error = FeatureReference.MaxAbs(f, FeatureReference.Truncated(File.ReadAllBytes(file.Path), Extension(file.Path), FeaturePooling.LastPatch, TruncationStrategy.HeadTail));
            error.Should().BeLessThan(1e-4, file.Path);
            worst = Math.Max(worst, error);
        }
        output.WriteLine($"last patch, head+tail through ML.NET: max abs error {worst:E2}");
    }

    [Fact]
    public void Head_reading_caps_save_by_contract_and_other_caps_are_refused()
    {
        var rows = Files((1000, "x.bin"));
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(rows);
        LoadFileBytesEstimator.SupportedMaxBytes.Should().Equal(1L << 20, 16L << 20);
        var model = ml.Transforms.LoadFileBytes(maxBytes: 16 << 20).Fit(data);
        var zip = Path.Combine(_dir, "reader.zip");
        ml.Model.Save(model, data.Schema, zip);
        var loaded = new MLContext().Model.Load(zip, out _);
        var bytes = loaded.Transform(data).GetColumn<VBuffer<byte>>("Bytes").Single().DenseValues().ToArray();
        bytes.Should().Equal(File.ReadAllBytes(rows[0].Path));

        FileWindowReader.ReadHead(rows[0].Path, 10).Should().Equal(File.ReadAllBytes(rows[0].Path)[..10]);
        var odd = () => ml.Transforms.LoadFileBytes(maxBytes: 1000);
        odd.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*1048576*16777216*");
        var badWindows = () => ml.Transforms.FeaturizeBGpt(new BGptFeaturizerOptions { CheckpointPath = Lm, MaxWindows = 0 });
        badWindows.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*MaxWindows*");
        var badThreads = () => ml.Transforms.ScoreBitsPerByte(new BGptBitsPerByteOptions { CheckpointPath = Lm, Threads = 0 });
        badThreads.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*ScoreBitsPerByte*Threads*");
    }

    public sealed class MetadataRow
    {
        public string Path { get; set; } = "";
        public string extension { get; set; } = ""; // the user's own column that happens to share the graph input's name
    }

    [Fact]
    public void Options_are_read_once_and_a_column_named_like_the_graph_is_refused_by_name()
    {
        var ml = new MLContext();
        var options = new BGptFeaturizerOptions { CheckpointPath = Lm, OutputColumnName = "Embedding", Threads = 1 };
        var featurizer = ml.Transforms.FeaturizeBGpt(options);
        options.OutputColumnName = "Later"; // after construction: no effect, as for the graph exported once
        options.MaxWindows = 0;
        var rows = new[] { new MetadataRow { Path = ReferenceFixtures.PathOf(ReferenceFixtures.Case("05").GetProperty("input").GetString()!), extension = "txt" } };
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.LoadFileBytes("Bytes", "Path").Append(featurizer).Fit(ml.Transforms.DropColumns("extension").Fit(data).Transform(data));
        model.Transform(ml.Transforms.DropColumns("extension").Fit(data).Transform(data)).Schema.GetColumnOrNull("Embedding").Should().NotBeNull();

        var clash = () => ml.Transforms.LoadFileBytes("Bytes", "Path").Append(ml.Transforms.FeaturizeBGpt(Lm)).Fit(data);
        clash.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*FeaturizeBGpt*'extension'*rename it first*");
    }
}
