using FluentAssertions;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Onnx;
using Onnx;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>
/// <see cref="OnnxQuantizer"/>: dynamic int8 quantization of an exported graph keeps bGPT's outputs close to fp32 on
/// the fixture model (lm.pth), and rewrites exactly the weight MatMuls.
/// </summary>
public class QuantizationTests(ITestOutputHelper output)
{
    // Stated tolerances; observed on the fixture model: features max |Δ| 0.021 (max |x| ~2.5), cosine 0.99997,
    // bits per byte 0.06% (see the test output). Features are LayerNorm outputs
    // averaged over patches, of magnitude ~1; int8 costs about two decimal digits.
    private const double FeatureMaxAbs = 0.05;
    private const double FeatureMinCosine = 0.999;
    private const double BitsPerByteRelative = 0.01;

    private static readonly Lazy<IReadOnlyDictionary<string, TensorData>> Lm = new(() => FixtureModels.StateDict("lm.pth"));

    private static IEnumerable<(string Id, byte[] Content, byte[] Extension)> Inputs() =>
        ReferenceFixtures.Cases.Select(c =>
        {
            var path = ReferenceFixtures.PathOf(c.GetProperty("input").GetString()!);
            return (c.GetProperty("id").GetString()!, File.ReadAllBytes(path), ByteEncoder.ExtensionBytes(ByteEncoder.ExtensionOf(path), ReferenceFixtures.Config.PatchSize));
        });

    [Fact]
    public void Features_and_bits_per_byte_stay_within_tolerance_of_fp32()
    {
        var fp32 = BGptOnnxExporter.Export(Lm.Value, ReferenceFixtures.Config, new BGptOnnxOptions { Head = OnnxHead.BitsPerByte });
        var int8 = OnnxQuantizer.QuantizeDynamic(fp32, null, out var report);
        report.QuantizedMatMuls.Should().Be(4 * (ReferenceFixtures.Config.PatchNumLayers + ReferenceFixtures.Config.ByteNumLayers) + 1,
            "four weight MatMuls per block (c_attn, attn c_proj, c_fc, mlp c_proj) and the byte decoder's output projection");
        report.QuantizedWeightBytes.Should().BeLessThan(report.FloatWeightBytes / 3);

        using var a = new OnnxRunner(fp32);
        using var b = new OnnxRunner(int8);
        double worstFeature = 0, worstCosine = 1, worstBpb = 0;
        int count = 0;
        foreach (var (id, content, extension) in Inputs())
        {
            var x = a.Run(content, extension);
            var y = b.Run(content, extension);
            var fx = x[BGptOnnxExporter.FeaturesOutput].Values;
            var fy = y[BGptOnnxExporter.FeaturesOutput].Values;
            double maxAbs = fx.Zip(fy, (p, q) => Math.Abs((double)p - q)).Max();
            double dot = fx.Zip(fy, (p, q) => (double)p * q).Sum();
            double cos = dot / Math.Sqrt(fx.Sum(v => (double)v * v) * fy.Sum(v => (double)v * v));
            double bx = x[BGptOnnxExporter.BitsPerByteOutput].Values[0], by = y[BGptOnnxExporter.BitsPerByteOutput].Values[0];
            double rel = Math.Abs(bx - by) / Math.Abs(bx);
            output.WriteLine($"case {id}: features max |Δ| {maxAbs:0.0000} (max |x| {fx.Max(Math.Abs):0.00}), cos {cos:0.000000}; bits/byte {bx:0.0000} → {by:0.0000} ({rel * 100:0.00}%)");
            worstFeature = Math.Max(worstFeature, maxAbs);
            worstCosine = Math.Min(worstCosine, cos);
            worstBpb = Math.Max(worstBpb, rel);
            count++;
        }
        count.Should().BeGreaterThan(3);
        output.WriteLine($"worst over {count} cases: features max |Δ| {worstFeature:0.0000}, cosine {worstCosine:0.000000}, bits/byte {worstBpb * 100:0.00}%");
        worstFeature.Should().BeLessThan(FeatureMaxAbs);
        worstCosine.Should().BeGreaterThan(FeatureMinCosine);
        worstBpb.Should().BeLessThan(BitsPerByteRelative);
    }

    [Fact]
    public void Rewrites_weight_matmuls_only_and_marks_the_model()
    {
        var fp32 = BGptOnnxExporter.Export(Lm.Value, ReferenceFixtures.Config, new BGptOnnxOptions { Head = OnnxHead.Features });
        var before = ModelProto.Parser.ParseFrom(fp32);
        var after = ModelProto.Parser.ParseFrom(OnnxQuantizer.QuantizeDynamic(fp32));
        int layers = ReferenceFixtures.Config.PatchNumLayers;

        int Count(ModelProto m, string op) => m.Graph.Node.Count(n => n.OpType == op);
        Count(after, "MatMulInteger").Should().Be(4 * layers);
        Count(after, "DynamicQuantizeLinear").Should().Be(4 * layers, "each weight MatMul has its own input (c_attn's and c_fc's are LayerNorm outputs)");
        // Attention (two activations, ONNX's fused operator at the default opset) stays float.
        Count(after, "MatMul").Should().Be(Count(before, "MatMul") - 4 * layers).And.Be(0);
        Count(after, "Attention").Should().Be(layers);
        var written = ModelProto.Parser.ParseFrom(OnnxQuantizer.QuantizeDynamic(BGptOnnxExporter.Export(Lm.Value, ReferenceFixtures.Config,
            new BGptOnnxOptions { Head = OnnxHead.Features, Opset = BGptOnnxOptions.MinOpset })));
        Count(written, "MatMul").Should().Be(2 * layers, "written-out attention's q·k^T and probs·v stay float");
        Count(written, "MatMulInteger").Should().Be(4 * layers);
        after.Graph.Initializer.Should().NotContain(t => t.Name == "patch_level_decoder.base.h.0.mlp.c_fc.weight");
        after.Graph.Initializer.Should().Contain(t => t.DataType == (int)TensorProto.Types.DataType.Int8 && t.Dims.SequenceEqual(new long[] { 128, 512 }));
        after.MetadataProps.Should().Contain(p => p.Key == OnnxQuantizer.MetadataKey);
        // The graph's contract is unchanged.
        after.Graph.Input.Select(i => i.Name).Should().Equal(before.Graph.Input.Select(i => i.Name));
        after.Graph.Output.Select(i => i.Name).Should().Equal(before.Graph.Output.Select(i => i.Name));
    }

    [Fact]
    public void Keep_and_minimum_size_leave_weights_in_float()
    {
        var fp32 = BGptOnnxExporter.Export(Lm.Value, ReferenceFixtures.Config, new BGptOnnxOptions { Head = OnnxHead.Features });
        OnnxQuantizer.QuantizeDynamic(fp32, new OnnxQuantizationOptions { Keep = name => name.Contains(".mlp.") }, out var kept);
        kept.QuantizedMatMuls.Should().Be(2 * ReferenceFixtures.Config.PatchNumLayers);
        OnnxQuantizer.QuantizeDynamic(fp32, new OnnxQuantizationOptions { MinimumElements = long.MaxValue }, out var none);
        none.QuantizedMatMuls.Should().Be(0);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void Weight_quantization_error_is_at_most_half_a_step(bool perColumn, bool reduceRange)
    {
        int qmax = reduceRange ? 63 : 127;
        const int rows = 64, columns = 96;
        var rng = new Random(3);
        var w = Enumerable.Range(0, rows * columns).Select(_ => (float)(rng.NextDouble() * 2 - 1) * (float)Math.Exp(rng.NextDouble() * 4 - 2)).ToArray();
        var weight = new TensorProto { Name = "W", DataType = (int)TensorProto.Types.DataType.Float };
        weight.Dims.AddRange(new long[] { rows, columns });
        weight.FloatData.AddRange(w);
        var graph = new GraphProto { Name = "g" };
        graph.Initializer.Add(weight);
        graph.Input.Add(new ValueInfoProto { Name = "x", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
        graph.Output.Add(new ValueInfoProto { Name = "y", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
        graph.Node.Add(new NodeProto { OpType = "MatMul", Name = "mm", Input = { "x", "W" }, Output = { "y" } });
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });

        var quantized = ModelProto.Parser.ParseFrom(OnnxQuantizer.QuantizeDynamic(Google.Protobuf.MessageExtensions.ToByteArray(model),
            new OnnxQuantizationOptions { PerColumn = perColumn, ReduceRange = reduceRange }));
        var q = quantized.Graph.Initializer.Single(t => t.DataType == (int)TensorProto.Types.DataType.Int8).RawData.ToByteArray();
        var scaleBytes = quantized.Graph.Initializer.Single(t => t.Name.EndsWith("_scale", StringComparison.Ordinal)).RawData.ToByteArray();
        var scales = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(scaleBytes).ToArray();
        scales.Should().HaveCount(perColumn ? columns : 1);
        quantized.Graph.Initializer.Should().NotContain(t => t.Name == "W");
        for (int i = 0; i < w.Length; i++)
        {
            float s = scales[perColumn ? i % columns : 0];
            ((int)(sbyte)q[i]).Should().BeInRange(-qmax, qmax);
            Math.Abs((sbyte)q[i] * s - w[i]).Should().BeLessThanOrEqualTo(s / 2 * 1.0001f + 1e-7f);
        }
        q.Max(b => Math.Abs((int)(sbyte)b)).Should().Be(qmax, "the largest weight of each scale's group maps to the range's end");
    }
}
