using FluentAssertions;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Onnx;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>
/// A TorchSharp reference of the exported features (pooling, truncation, window mean) on the fixture LM's
/// patch-level decoder, written from the documented definitions (docs/onnx.md), independently of the graph.
/// </summary>
public static class FeatureReference
{
    private static readonly Lazy<BGptLMHeadModel> Lm = new(() => FixtureModels.LanguageModel());

    /// <summary>Window length in content bytes: (PatchLength - 2) x PatchSize (480 for the fixture config).</summary>
    public static int WindowBytes => (ReferenceFixtures.Config.PatchLength - 2) * ReferenceFixtures.Config.PatchSize;

    /// <summary>Pooled features [H] of one encoded sequence.</summary>
    public static double[] Pool(int[] tokens, FeaturePooling pooling)
    {
        lock (Lm)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var hidden = Lm.Value.PatchDecoder.forward(FixtureModels.Tokens(tokens)).to_type(ScalarType.Float64); // [1, N, H]
            var pooled = pooling == FeaturePooling.Mean ? hidden.mean([1L]) : hidden[.., -1, ..];                // [1, H]
            return pooled.contiguous().data<double>().ToArray();
        }
    }

    /// <summary>Features of a file truncated as <see cref="ByteEncoder.Encode"/> does.</summary>
    public static double[] Truncated(byte[] content, byte[] extension, FeaturePooling pooling, TruncationStrategy truncation) =>
        Pool(ByteEncoder.Encode(content, extension, ReferenceFixtures.Config, truncation), pooling);

    /// <summary>The averaged window indices: all of K, or maxWindows evenly spaced (first and last included).</summary>
    public static long[] WindowIndices(long length, int maxWindows)
    {
        long k = Math.Max(1, (length + WindowBytes - 1) / WindowBytes);
        if (k <= maxWindows) return Enumerable.Range(0, (int)k).Select(i => (long)i).ToArray();
        if (maxWindows == 1) return [0];
        return Enumerable.Range(0, maxWindows).Select(i => (long)Math.Floor(i * (double)(k - 1) / (maxWindows - 1))).ToArray();
    }

    /// <summary>Window mean: each window encoded as a whole file by ByteEncoder, pooled, then averaged.</summary>
    public static double[] WindowMean(byte[] content, byte[] extension, FeaturePooling pooling, int maxWindows)
    {
        var pooled = WindowIndices(content.Length, maxWindows).Select(w =>
        {
            int start = (int)(w * WindowBytes), length = Math.Min(content.Length - start, WindowBytes);
            var tokens = ByteEncoder.Encode(content.AsSpan(start, length), extension, ReferenceFixtures.Config);
            tokens.Length.Should().BeLessThanOrEqualTo(ReferenceFixtures.Config.MaxTokens, "a window fits the budget untruncated");
            return Pool(tokens, pooling);
        }).ToList();
        return Enumerable.Range(0, pooled[0].Length).Select(j => pooled.Average(p => p[j])).ToArray();
    }

    public static double MaxAbs(IReadOnlyList<float> actual, IReadOnlyList<double> expected)
    {
        actual.Should().HaveCount(expected.Count);
        return actual.Zip(expected, (a, e) => Math.Abs(a - e)).Max();
    }
}

/// <summary>The exported graph's pooling and window mean against <see cref="FeatureReference"/>.</summary>
public class OnnxPoolingTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;
    private static readonly Lazy<IReadOnlyDictionary<string, TensorData>> LmWeights = new(() => FixtureModels.StateDict("lm.pth"));
    private static readonly Dictionary<BGptOnnxOptions, OnnxRunner> Runners = new();
    private static int W => FeatureReference.WindowBytes;

    private static OnnxRunner Runner(BGptOnnxOptions options)
    {
        lock (Runners)
        {
            if (!Runners.TryGetValue(options, out var runner)) Runners[options] = runner = OnnxRunner.Export(LmWeights.Value, options);
            return runner;
        }
    }

    private static float[] Features(BGptOnnxOptions options, byte[] content, byte[] extension)
    {
        var result = Runner(options).Run(content, extension)[BGptOnnxExporter.FeaturesOutput];
        result.Shape.Should().Equal([1L, ReferenceFixtures.Config.HiddenSize]);
        return result.Values;
    }

    private static (byte[] Content, byte[] Extension) RandomFile(Random random, int length)
    {
        var content = new byte[length];
        random.NextBytes(content);
        var extension = new byte[random.Next(0, 21)];
        random.NextBytes(extension);
        return (content, extension);
    }

    [Theory]
    [InlineData(FeaturePooling.Mean, TruncationStrategy.Head)]
    [InlineData(FeaturePooling.LastPatch, TruncationStrategy.Head)]
    [InlineData(FeaturePooling.LastPatch, TruncationStrategy.HeadTail)]
    [InlineData(FeaturePooling.LastPatch, TruncationStrategy.Tail)]
    public void Pooling_of_truncated_files_matches_the_reference(FeaturePooling pooling, TruncationStrategy truncation)
    {
        var random = new Random(31 + 7 * (int)pooling + (int)truncation);
        var options = new BGptOnnxOptions { Pooling = pooling, Truncation = truncation };
        double worst = 0;
        foreach (var length in new[] { 0, 1, 16, 479, 480, 481, 497 }.Concat(Enumerable.Range(0, 5).Select(_ => random.Next(2001))))
        {
            var (content, extension) = RandomFile(random, length);
            var error = FeatureReference.MaxAbs(Features(options, content, extension), FeatureReference.Truncated(content, extension, pooling, truncation));
            error.Should().BeLessThanOrEqualTo(Tolerance, $"{pooling}/{truncation}, {length} bytes");
            worst = Math.Max(worst, error);
        }
        output.WriteLine($"{pooling}/{truncation}: max abs error {worst:E2}");
    }

    [Fact]
    public void Last_patch_pooling_differs_from_the_mean()
    {
        var content = "some bytes to pool"u8.ToArray();
        var mean = Features(new BGptOnnxOptions(), content, "txt"u8.ToArray());
        var last = Features(new BGptOnnxOptions { Pooling = FeaturePooling.LastPatch }, content, "txt"u8.ToArray());
        FeatureReference.MaxAbs(last, mean.Select(x => (double)x).ToArray()).Should().BeGreaterThan(1e-3);
    }

    [Theory]
    [InlineData(FeaturePooling.Mean, 16)]
    [InlineData(FeaturePooling.LastPatch, 16)]
    [InlineData(FeaturePooling.Mean, 3)]
    [InlineData(FeaturePooling.LastPatch, 2)]
    [InlineData(FeaturePooling.Mean, 1)]
    public void Window_mean_matches_the_reference(FeaturePooling pooling, int maxWindows)
    {
        var random = new Random(400 + 10 * maxWindows + (int)pooling);
        var options = new BGptOnnxOptions { Pooling = pooling, LongFiles = LongFileStrategy.WindowMean, MaxWindows = maxWindows };
        // Empty, inside one window, exactly one window, one byte over, whole and partial windows, the cap and past it.
        var lengths = new[] { 0, 1, 15, 16, 17, W - 1, W, W + 1, 2 * W, 2 * W + 1, 3 * W - 1, 3 * W + 5, 16 * W, 16 * W + 1, 17 * W + 9, 40 * W + 7 }
            .Concat(Enumerable.Range(0, 6).Select(_ => random.Next(30 * W)));
        double worst = 0;
        foreach (var length in lengths)
        {
            var (content, extension) = RandomFile(random, length);
            var error = FeatureReference.MaxAbs(Features(options, content, extension), FeatureReference.WindowMean(content, extension, pooling, maxWindows));
            error.Should().BeLessThanOrEqualTo(Tolerance, $"{pooling}, MaxWindows {maxWindows}, {length} bytes");
            worst = Math.Max(worst, error);
        }
        output.WriteLine($"window mean {pooling}, MaxWindows {maxWindows}: max abs error {worst:E2}");
    }

    [Theory]
    [InlineData(FeaturePooling.Mean)]
    [InlineData(FeaturePooling.LastPatch)]
    public void A_file_of_one_window_gives_the_single_sequence_result(FeaturePooling pooling)
    {
        var random = new Random(5 + (int)pooling);
        var windows = new BGptOnnxOptions { Pooling = pooling, LongFiles = LongFileStrategy.WindowMean };
        var single = new BGptOnnxOptions { Pooling = pooling };
        double worst = 0;
        foreach (var length in new[] { 0, 1, 16, 17, W - 1, W }.Concat(Enumerable.Range(0, 6).Select(_ => random.Next(W + 1))))
        {
            var (content, extension) = RandomFile(random, length);
            var a = Features(windows, content, extension);
            var b = Features(single, content, extension);
            var error = FeatureReference.MaxAbs(a, b.Select(x => (double)x).ToArray());
            error.Should().BeLessThanOrEqualTo(1e-6, $"{length} bytes");
            worst = Math.Max(worst, error);
        }
        output.WriteLine($"one window vs single sequence ({pooling}): max abs difference {worst:E2}");
    }

    [Fact]
    public void Window_ranges_are_the_averaged_windows_and_give_the_same_features()
    {
        var config = ReferenceFixtures.Config;
        var random = new Random(9);
        foreach (var maxWindows in new[] { 1, 3, 16 })
        {
            var options = new BGptOnnxOptions { LongFiles = LongFileStrategy.WindowMean, MaxWindows = maxWindows };
            foreach (var length in new[] { 0, 5, W, W + 1, 3 * W, 3 * W + 1, 16 * W + 1, 50 * W + 3 }.Concat(Enumerable.Range(0, 4).Select(_ => random.Next(60 * W))))
            {
                var ranges = BGptOnnxExporter.WindowRanges(length, config, maxWindows);
                ranges.Select(r => r.Offset / W).Should().Equal(FeatureReference.WindowIndices(length, maxWindows), $"{length} bytes");
                ranges.Take(ranges.Count - 1).All(r => r.Length == W).Should().BeTrue("every range but the last is a whole window");
                if (maxWindows > 1 || length <= W)
                    (ranges[^1].Offset + ranges[^1].Length).Should().Be(length, "the last window is averaged (MaxWindows 1 keeps only the first)");
                if (length > 20 * W && maxWindows != 3) continue; // keep ONNX runs few
                var (content, extension) = RandomFile(random, length);
                var reduced = ranges.SelectMany(r => content.Skip((int)r.Offset).Take((int)r.Length)).ToArray();
                Features(options, reduced, extension).Should().Equal(Features(options, content, extension), $"{length} bytes, MaxWindows {maxWindows}");
            }
        }
    }

    [Fact]
    public void Invalid_combinations_are_rejected()
    {
        var config = ReferenceFixtures.Config;
        Action export(BGptOnnxOptions o) => () => BGptOnnxExporter.Export(LmWeights.Value, config, o);
        export(new BGptOnnxOptions { Head = OnnxHead.Classifier, Pooling = FeaturePooling.LastPatch }).Should().Throw<ArgumentException>().WithMessage("*mean-pooled*");
        export(new BGptOnnxOptions { LongFiles = LongFileStrategy.WindowMean, MaxWindows = 0 }).Should().Throw<ArgumentException>().WithMessage("*MaxWindows 0*");
        export(new BGptOnnxOptions { LongFiles = LongFileStrategy.WindowMean, Head = OnnxHead.BitsPerByte }).Should().Throw<ArgumentException>().WithMessage("*BitsPerByte*");
        export(new BGptOnnxOptions { LongFiles = LongFileStrategy.WindowMean, IncludeLastHiddenState = true }).Should().Throw<ArgumentException>().WithMessage("*IncludeLastHiddenState*");
        export(new BGptOnnxOptions { Pooling = (FeaturePooling)7 }).Should().Throw<ArgumentException>();

        using var runner = new OnnxRunner(BGptOnnxExporter.Export(LmWeights.Value, config,
            new BGptOnnxOptions { Pooling = FeaturePooling.LastPatch, LongFiles = LongFileStrategy.WindowMean, MaxWindows = 5 }));
        var meta = runner.Session.ModelMetadata.CustomMetadataMap;
        (meta["bgpt.pooling"], meta["bgpt.long_files"], meta["bgpt.max_windows"]).Should().Be(("LastPatch", "WindowMean", "5"));
    }
}
