using FluentAssertions;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Onnx;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>The exported ONNX graph, run by ONNX Runtime, against the original's fixtures and the TorchSharp model.</summary>
public class OnnxExportTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    private static readonly Lazy<IReadOnlyDictionary<string, TensorData>> ClsWeights = new(() => FixtureModels.StateDict("cls.pth"));
    private static readonly Lazy<IReadOnlyDictionary<string, TensorData>> LmWeights = new(() => FixtureModels.StateDict("lm.pth"));
    private static readonly Lazy<BGptClassifier> Cls = new(() => FixtureModels.Classifier());
    private static readonly Lazy<BGptLMHeadModel> Lm = new(() => FixtureModels.LanguageModel());

    // One exported model per (head, truncation), shared by the tests.
    private static readonly Dictionary<(OnnxHead, TruncationStrategy), OnnxRunner> Runners = new();

    private static OnnxRunner Runner(OnnxHead head, TruncationStrategy truncation = TruncationStrategy.Head)
    {
        lock (Runners)
        {
            if (!Runners.TryGetValue((head, truncation), out var runner))
            {
                var weights = head == OnnxHead.BitsPerByte ? LmWeights.Value : ClsWeights.Value;
                Runners[(head, truncation)] = runner = OnnxRunner.Export(weights,
                    new BGptOnnxOptions { Head = head, Truncation = truncation, IncludeLastHiddenState = head == OnnxHead.Classifier });
            }
            return runner;
        }
    }

    private static (byte[] Content, byte[] Extension) FixtureInput(string id)
    {
        var input = ReferenceFixtures.Case(id).GetProperty("input").GetString()!;
        var path = ReferenceFixtures.PathOf(input);
        return (File.ReadAllBytes(path), ByteEncoder.ExtensionBytes(ByteEncoder.ExtensionOf(path), ReferenceFixtures.Config.PatchSize));
    }

    private static double MaxAbs((float[] Values, long[] Shape) actual, float[] expected, long[] expectedShape, double tolerance, string what)
    {
        actual.Shape.Should().Equal(expectedShape, $"{what} has the reference shape");
        double max = 0;
        for (int i = 0; i < expected.Length; i++) max = Math.Max(max, Math.Abs(actual.Values[i] - expected[i]));
        max.Should().BeLessThanOrEqualTo(tolerance, $"{what} matches within {tolerance}");
        return max;
    }

    private static (float[] Values, long[] Shape) Floats(Tensor t)
    {
        using var cpu = t.detach().cpu().contiguous();
        return (cpu.data<float>().ToArray(), cpu.shape);
    }

    [Theory]
    [MemberData(nameof(ReferenceFixtures.CaseIds), MemberType = typeof(ReferenceFixtures))]
    public void Features_logits_and_loss_match_the_original(string id)
    {
        var (content, extension) = FixtureInput(id);
        var cls = Runner(OnnxHead.Classifier).Run(content, extension);
        var lm = Runner(OnnxHead.BitsPerByte).Run(content, extension);
        double loss = lm[BGptOnnxExporter.LossOutput].Values[0];
        lm[BGptOnnxExporter.BitsPerByteOutput].Values[0].Should().BeApproximately((float)(loss / Math.Log(2)), 1e-5f);

        if (id == "11")
        {
            // No extension: the original put the path string in the extension patch, we use an empty extension.
            // Compare with the TorchSharp model (itself checked against the fixtures) on our tokens instead.
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var tokens = FixtureModels.Tokens(ByteEncoder.Encode(content, extension, ReferenceFixtures.Config));
            var f = Floats(Cls.Value.Features(tokens));
            var e1 = MaxAbs(cls[BGptOnnxExporter.FeaturesOutput], f.Values, f.Shape, Tolerance, "features");
            var l = Floats(Cls.Value.forward(tokens));
            var e2 = MaxAbs(cls[BGptOnnxExporter.LogitsOutput], l.Values, l.Shape, Tolerance, "logits");
            double expectedLoss = Lm.Value.Loss(tokens).item<float>();
            Compare.Relative(loss, expectedLoss, 1e-5, "loss vs TorchSharp");
            output.WriteLine($"case {id} (vs TorchSharp): features {e1:E2}, logits {e2:E2}, loss {loss} vs {expectedLoss}");
            return;
        }

        var h = MaxAbs(cls[BGptOnnxExporter.LastHiddenStateOutput], ReferenceFixtures.Floats($"cases/{id}/last_hidden_state.npy", out var hs), hs, Tolerance, "last_hidden_state");
        var p = MaxAbs(cls[BGptOnnxExporter.FeaturesOutput], ReferenceFixtures.Floats($"cases/{id}/pooled.npy", out var ps), ps, Tolerance, "features");
        var g = MaxAbs(cls[BGptOnnxExporter.LogitsOutput], ReferenceFixtures.Floats($"cases/{id}/cls_logits.npy", out var ls), ls, Tolerance, "logits");
        var reference = ReferenceFixtures.Floats($"cases/{id}/lm_loss.npy")[0];
        Compare.Relative(loss, reference, 1e-5, $"lm loss of case {id}");

        var probabilities = cls[BGptOnnxExporter.ProbabilitiesOutput].Values;
        probabilities.Sum().Should().BeApproximately(1f, 1e-5f);
        var logits = cls[BGptOnnxExporter.LogitsOutput].Values;
        var expectedProbs = logits.Select(x => Math.Exp(x - logits.Max())).ToArray();
        for (int i = 0; i < logits.Length; i++) probabilities[i].Should().BeApproximately((float)(expectedProbs[i] / expectedProbs.Sum()), 1e-5f);
        output.WriteLine($"case {id}: max abs error hidden {h:E2}, features {p:E2}, logits {g:E2}; loss {loss} vs {reference} (rel {Math.Abs(loss - reference) / reference:E2})");
    }

    [Theory]
    [InlineData(TruncationStrategy.Head)]
    [InlineData(TruncationStrategy.HeadTail)]
    [InlineData(TruncationStrategy.Tail)]
    public void Random_inputs_match_the_TorchSharp_model(TruncationStrategy truncation)
    {
        var random = new Random(20240 + (int)truncation);
        var cls = Runner(OnnxHead.Classifier, truncation);
        var lm = Runner(OnnxHead.BitsPerByte, truncation);
        double worstFeatures = 0, worstLogits = 0, worstLoss = 0;
        // Lengths around the patch budget (32 patches = 480 content bytes here) and the patch size, and random ones.
        var lengths = new[] { 0, 1, 16, 479, 480, 481, 495, 496, 497 }.Concat(Enumerable.Range(0, 6).Select(_ => random.Next(2001)));
        foreach (var length in lengths)
        {
            var content = new byte[length];
            random.NextBytes(content);
            var extension = new byte[random.Next(0, 21)];
            random.NextBytes(extension);

            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var tokens = FixtureModels.Tokens(ByteEncoder.Encode(content, extension, ReferenceFixtures.Config, truncation));
            var c = cls.Run(content, extension);
            var f = Floats(Cls.Value.Features(tokens));
            worstFeatures = Math.Max(worstFeatures, MaxAbs(c[BGptOnnxExporter.FeaturesOutput], f.Values, f.Shape, Tolerance, $"features ({length} bytes)"));
            var l = Floats(Cls.Value.forward(tokens));
            worstLogits = Math.Max(worstLogits, MaxAbs(c[BGptOnnxExporter.LogitsOutput], l.Values, l.Shape, Tolerance, $"logits ({length} bytes)"));
            c[BGptOnnxExporter.LastHiddenStateOutput].Shape[1].Should().Be(tokens.shape[1] / ReferenceFixtures.Config.PatchSize);

            double loss = lm.Run(content, extension)[BGptOnnxExporter.LossOutput].Values[0];
            double expected = Lm.Value.Loss(tokens).item<float>();
            Math.Abs(loss - expected).Should().BeLessThanOrEqualTo(Tolerance, $"loss ({length} bytes)");
            worstLoss = Math.Max(worstLoss, Math.Abs(loss - expected));
        }
        output.WriteLine($"{truncation}: max abs error features {worstFeatures:E2}, logits {worstLogits:E2}, loss {worstLoss:E2}");
    }

    [Theory]
    [InlineData(TruncationStrategy.Head)]
    [InlineData(TruncationStrategy.HeadTail)]
    [InlineData(TruncationStrategy.Tail)]
    public void Input_ranges_give_the_tokens_and_outputs_of_the_whole_file(TruncationStrategy truncation)
    {
        var config = ReferenceFixtures.Config;
        var random = new Random(77 + (int)truncation);
        var extension = "bin"u8.ToArray();
        var lengths = Enumerable.Range(0, 600).Concat(Enumerable.Range(0, 50).Select(_ => random.Next(600, 5000)));
        foreach (var length in lengths)
        {
            var content = new byte[length];
            random.NextBytes(content);
            var ranges = BGptOnnxExporter.InputRanges(length, config, truncation);
            var reduced = ranges.SelectMany(r => content.Skip((int)r.Offset).Take((int)r.Length)).ToArray();
            ByteEncoder.Encode(reduced, extension, config, truncation).Should()
                .Equal(ByteEncoder.Encode(content, extension, config, truncation), $"{length} bytes, ranges {string.Join(" ", ranges)}");
            if (length % 97 == 0 || length > 4000)
                Runner(OnnxHead.Classifier, truncation).Run(reduced, extension)[BGptOnnxExporter.LogitsOutput].Values.Should()
                    .Equal(Runner(OnnxHead.Classifier, truncation).Run(content, extension)[BGptOnnxExporter.LogitsOutput].Values);
        }
    }

    [Fact]
    public void Features_head_opset_20_and_file_export_agree()
    {
        var (content, extension) = FixtureInput("05");
        var dir = Directory.CreateTempSubdirectory("bgpt-onnx-");
        try
        {
            var path = Path.Combine(dir.FullName, "features.onnx");
            BGptOnnxExporter.Export(ClsWeights.Value, ReferenceFixtures.Config, path, new BGptOnnxOptions { Opset = 20 });
            Directory.GetFiles(dir.FullName).Should().Equal([path], "the temporary file was moved into place");
            using var runner = new OnnxRunner(File.ReadAllBytes(path));
            runner.Session.InputMetadata.Keys.Should().BeEquivalentTo(BGptOnnxExporter.BytesInput, BGptOnnxExporter.ExtensionInput);
            runner.Session.OutputMetadata.Keys.Should().Equal(BGptOnnxExporter.FeaturesOutput);
            runner.Session.ModelMetadata.CustomMetadataMap["bgpt.head"].Should().Be("Features");
            var result = runner.Run(content, extension);
            var e = MaxAbs(result[BGptOnnxExporter.FeaturesOutput], ReferenceFixtures.Floats("cases/05/pooled.npy", out var ps), ps, Tolerance, "features at opset 20");
            output.WriteLine($"opset 20 features max abs error {e:E2}");
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void Fused_attention_at_opset_23_and_written_out_attention_at_17_both_match_the_original()
    {
        var (content, extension) = FixtureInput("05");
        int AttentionNodes(byte[] model) => global::Onnx.ModelProto.Parser.ParseFrom(model).Graph.Node.Count(n => n.OpType == "Attention");
        int MaskTensors(byte[] model) => global::Onnx.ModelProto.Parser.ParseFrom(model).Graph.Initializer.Count(t => t.Name.EndsWith("causal_mask"));
        var results = new Dictionary<int, (float[] Features, float Loss)>();
        foreach (int opset in new[] { 17, BGptOnnxOptions.DefaultOpset })
        {
            var cls = BGptOnnxExporter.Export(ClsWeights.Value, ReferenceFixtures.Config, new BGptOnnxOptions { Head = OnnxHead.Classifier, Opset = opset });
            var lm = BGptOnnxExporter.Export(LmWeights.Value, ReferenceFixtures.Config, new BGptOnnxOptions { Head = OnnxHead.BitsPerByte, Opset = opset });
            AttentionNodes(cls).Should().Be(opset >= BGptOnnxOptions.FusedAttentionOpset ? ReferenceFixtures.Config.PatchNumLayers : 0, $"opset {opset}");
            AttentionNodes(lm).Should().Be(opset >= BGptOnnxOptions.FusedAttentionOpset ? ReferenceFixtures.Config.PatchNumLayers + ReferenceFixtures.Config.ByteNumLayers : 0, $"opset {opset}");
            MaskTensors(lm).Should().Be(opset >= BGptOnnxOptions.FusedAttentionOpset ? 0 : 2, "the fused operator needs no mask tensors");
            using var clsRunner = new OnnxRunner(cls);
            using var lmRunner = new OnnxRunner(lm);
            var features = clsRunner.Run(content, extension)[BGptOnnxExporter.FeaturesOutput];
            float loss = lmRunner.Run(content, extension)[BGptOnnxExporter.LossOutput].Values[0];
            MaxAbs(features, ReferenceFixtures.Floats("cases/05/pooled.npy", out var ps), ps, Tolerance, $"features at opset {opset}");
            Compare.Relative(loss, ReferenceFixtures.Floats("cases/05/lm_loss.npy")[0], 1e-5, $"lm loss at opset {opset}");
            results[opset] = (features.Values, loss);
        }
        var (f17, l17) = results[17];
        var (f23, l23) = results[BGptOnnxOptions.DefaultOpset];
        double diff = f17.Zip(f23).Max(p => Math.Abs(p.First - p.Second));
        diff.Should().BeLessThan(1e-5, "the fused operator computes the same attention");
        Compare.Relative(l23, l17, 1e-6, "loss, fused vs written out");
        output.WriteLine($"features max |fused - written out| {diff:E2}; loss {l23} vs {l17}");
    }

    [Fact]
    public void Long_extensions_are_cut_to_the_patch_size()
    {
        var content = "hello"u8.ToArray();
        var shortExt = Enumerable.Range(97, 16).Select(i => (byte)i).ToArray();
        var longExt = shortExt.Concat(Enumerable.Repeat((byte)'z', 40)).ToArray();
        var a = Runner(OnnxHead.Classifier).Run(content, shortExt)[BGptOnnxExporter.LogitsOutput].Values;
        var b = Runner(OnnxHead.Classifier).Run(content, longExt)[BGptOnnxExporter.LogitsOutput].Values;
        b.Should().Equal(a);
    }

    [Fact]
    public void A_missing_tensor_is_named()
    {
        const string key = "patch_level_decoder.base.h.1.mlp.c_fc.weight";
        var weights = ClsWeights.Value.Where(kv => kv.Key != key).ToDictionary();
        var act = () => BGptOnnxExporter.Export(weights, ReferenceFixtures.Config, new BGptOnnxOptions { Source = "model.pth" });
        act.Should().Throw<BGptCheckpointException>().Where(e => e.TensorKey == key && e.FilePath == "model.pth" && e.Message.Contains(key));
    }

    [Fact]
    public void A_mis_shaped_tensor_is_named()
    {
        const string key = "patch_level_decoder.base.h.0.attn.c_attn.weight";
        var weights = ClsWeights.Value.ToDictionary();
        weights[key] = TensorData.FromFloats(new float[128 * 128], [128, 128]);
        var act = () => BGptOnnxExporter.Export(weights, ReferenceFixtures.Config);
        act.Should().Throw<BGptCheckpointException>().Where(e => e.TensorKey == key && e.Message.Contains("[128, 384]"));
    }

    [Fact]
    public void Heads_need_their_weights_and_random_crop_is_rejected()
    {
        var fromLm = () => BGptOnnxExporter.Export(LmWeights.Value, ReferenceFixtures.Config, BGptOnnxOptions.For(OnnxHead.Classifier));
        fromLm.Should().Throw<BGptCheckpointException>().Where(e => e.TensorKey == "classifier.weight");
        var fromCls = () => BGptOnnxExporter.Export(ClsWeights.Value, ReferenceFixtures.Config, BGptOnnxOptions.For(OnnxHead.BitsPerByte));
        fromCls.Should().Throw<BGptCheckpointException>().Where(e => e.TensorKey == "byte_level_decoder.base.transformer.wte.weight");
        var crop = () => BGptOnnxExporter.Export(ClsWeights.Value, ReferenceFixtures.Config, new BGptOnnxOptions { Truncation = TruncationStrategy.RandomCrop });
        crop.Should().Throw<ArgumentException>().WithMessage("*RandomCrop*");
        var labels = () => BGptOnnxExporter.Export(ClsWeights.Value, ReferenceFixtures.Config, new BGptOnnxOptions { Head = OnnxHead.Classifier, Labels = ["a", "b"] });
        labels.Should().Throw<BGptCheckpointException>().Where(e => e.TensorKey == "classifier.weight");
    }

    [Fact]
    public void The_tied_lm_head_may_stand_in_for_the_byte_embeddings()
    {
        const string wte = "byte_level_decoder.base.transformer.wte.weight";
        var weights = LmWeights.Value.Where(kv => kv.Key != wte).ToDictionary();
        weights.Should().ContainKey("byte_level_decoder.base.lm_head.weight");
        using var runner = OnnxRunner.Export(weights, BGptOnnxOptions.For(OnnxHead.BitsPerByte));
        var (content, extension) = FixtureInput("05");
        Compare.Relative(runner.Run(content, extension)[BGptOnnxExporter.LossOutput].Values[0],
            ReferenceFixtures.Floats("cases/05/lm_loss.npy")[0], 1e-5, "loss with lm_head only");
    }
}
