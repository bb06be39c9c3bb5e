using System.Diagnostics;
using FluentAssertions;
using Microsoft.ML;
using Microsoft.ML.BGpt.Modeling;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>Memory stays flat over thousands of predictions (loose bounds: this measures leaks, not footprint).</summary>
[Collection(Training.TorchGlobalState.Name)]
public class MemoryTests(ITestOutputHelper output)
{
    public sealed class BytesRow
    {
        public byte[] Bytes { get; set; } = Array.Empty<byte>();
        public byte[] Extension { get; set; } = Array.Empty<byte>();
    }

    public sealed class FeaturesRow { public float[] Features { get; set; } = Array.Empty<float>(); }

    private static long WorkingSetMB()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return p.WorkingSet64 / (1024 * 1024);
    }

    private static BytesRow Row(Random rng)
    {
        var bytes = new byte[rng.Next(0, 600)];
        rng.NextBytes(bytes);
        return new BytesRow { Bytes = bytes, Extension = "bin"u8.ToArray() };
    }

    [Fact]
    public void Ten_thousand_PredictionEngine_calls_and_a_large_Transform_keep_memory_flat()
    {
        var ml = new MLContext(seed: 0);
        var rng = new Random(0);
        var sample = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 3000).Select(_ => Row(rng)).ToList());
        var model = ml.Transforms.FeaturizeBGpt(ReferenceFixtures.PathOf("lm.pth")).Fit(sample);
        var engine = ml.Model.CreatePredictionEngine<BytesRow, FeaturesRow>(model);

        for (int i = 0; i < 500; i++) engine.Predict(Row(rng)); // warm-up: ORT arenas, JIT
        long before = WorkingSetMB();
        for (int i = 0; i < 10_000; i++) engine.Predict(Row(rng)).Features.Should().HaveCount(128);
        long afterPredictions = WorkingSetMB();

        long rows = 0;
        foreach (var f in ml.Data.CreateEnumerable<FeaturesRow>(model.Transform(sample), reuseRowObject: true)) rows++;
        rows.Should().Be(3000);
        long afterTransform = WorkingSetMB();
        output.WriteLine($"working set: {before} MB before, {afterPredictions} MB after 10,000 predictions, {afterTransform} MB after a 3,000-row Transform");
        (afterPredictions - before).Should().BeLessThan(60, "10,000 predictions must not leak");
        (afterTransform - before).Should().BeLessThan(100, "a Transform over thousands of rows must not leak");
    }

    [Fact]
    public void TorchSharp_inference_in_dispose_scopes_leaks_no_tensors()
    {
        using var model = FixtureModels.Classifier();
        var rng = new Random(1);
        long Live() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        void Predict()
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var row = Row(rng);
            var tokens = ByteEncoder.Encode(row.Bytes, row.Extension, model.Config);
            model.forward(FixtureModels.Tokens(tokens)).data<float>().ToArray();
        }
        for (int i = 0; i < 100; i++) Predict();
        long liveBefore = Live(), before = WorkingSetMB();
        for (int i = 0; i < 1000; i++) Predict();
        long liveAfter = Live(), after = WorkingSetMB();
        output.WriteLine($"live tensors {liveBefore} -> {liveAfter}; working set {before} -> {after} MB over 1,000 predictions");
        liveAfter.Should().Be(liveBefore);
        (after - before).Should().BeLessThan(60);
    }
}
