using FluentAssertions;
using Microsoft.ML.BGpt.Checkpoints;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Onnx;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>BGptConfig.BigramBuckets: the hash, the TorchSharp embedding, the KV cache, the ONNX graph and checkpoints agree.</summary>
public class ByteBigramEmbeddingTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bgpt-bigram-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly BGptConfig Config = ReferenceFixtures.Config with { BigramBuckets = 61 };

    [Fact]
    public void The_hash_is_pinned_and_spreads_pairs_evenly()
    {
        // Values of the lowbias32 mix computed independently (Python); a change here changes every trained model.
        ByteBigramHash.Bucket(ByteBigramHash.Start, 0, 8192).Should().Be(5472);
        ByteBigramHash.Bucket(65, 66, 8192).Should().Be(6980);
        ByteBigramHash.Bucket(256, 256, 8192).Should().Be(2117);
        ByteBigramHash.Bucket(ByteBigramHash.Start, 256, 1000).Should().Be(119);
        ByteBigramHash.Bucket(104, 105, 64).Should().Be(34);

        var table = ByteBigramHash.Table(8192);
        table.Should().HaveCount(258 * 257);
        table[65 * 257 + 66].Should().Be(6980);
        var load = table.GroupBy(b => b).Select(g => g.Count()).ToList();
        load.Count.Should().BeGreaterThan(8180, "about 8,192 e^-8.1 = 2.5 buckets stay empty by chance");
        load.Max().Should().BeLessThan(25, "66,306 pairs over 8,192 buckets average 8.1 each");
    }

    [Fact]
    public void The_embedding_adds_the_row_of_each_tokens_pair_to_its_patch()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var random = new Random(3);
        const int buckets = 61, hidden = 8, patchSize = 4;
        using var embedding = new ByteBigramEmbedding(buckets, hidden);
        var tokens = Enumerable.Range(0, 2 * 3 * patchSize).Select(_ => (long)random.Next(257)).ToArray();
        var x = tensor(tokens, 2, 3, patchSize);
        var actual = embedding.forward(x, null).data<float>().ToArray();              // [2, 3, H]
        var weight = embedding.parameters().Single().data<float>().ToArray();          // [K, H]
        for (int row = 0; row < 2; row++)
            for (int patch = 0; patch < 3; patch++)
                for (int h = 0; h < hidden; h++)
                {
                    double sum = 0;
                    for (int i = 0; i < patchSize; i++)
                    {
                        int t = row * 3 * patchSize + patch * patchSize + i;
                        int previous = t % (3 * patchSize) == 0 ? ByteBigramHash.Start : (int)tokens[t - 1];
                        sum += weight[ByteBigramHash.Bucket(previous, (int)tokens[t], buckets) * hidden + h];
                    }
                    actual[(row * 3 + patch) * hidden + h].Should().BeApproximately((float)sum, 1e-6f);
                }
        embedding.HasSumModule.Should().BeTrue("the sum runs through the fused embedding_bag");
    }

    [Fact]
    public void Each_row_gets_the_gradient_of_every_token_that_hashes_to_it()
    {
        using var scope = NewDisposeScope();
        var random = new Random(4);
        const int buckets = 13, hidden = 3, patchSize = 4;
        using var embedding = new ByteBigramEmbedding(buckets, hidden);
        var tokens = Enumerable.Range(0, 2 * 2 * patchSize).Select(_ => (long)random.Next(257)).ToArray();
        var upstream = Enumerable.Range(0, 2 * 2 * hidden).Select(_ => (float)random.NextDouble()).ToArray(); // d loss / d output [2, 2, H]
        var output = embedding.forward(tensor(tokens, 2, 2, patchSize), null);
        output.mul(tensor(upstream, 2, 2, hidden)).sum().backward();
        var grad = embedding.parameters().Single().grad!.data<float>().ToArray();    // [K, H]
        var expected = new double[buckets * hidden];
        for (int t = 0; t < tokens.Length; t++)
        {
            int previous = t % (2 * patchSize) == 0 ? ByteBigramHash.Start : (int)tokens[t - 1];
            int bucket = ByteBigramHash.Bucket(previous, (int)tokens[t], buckets), patch = t / patchSize;
            for (int h = 0; h < hidden; h++) expected[bucket * hidden + h] += upstream[patch * hidden + h];
        }
        grad.Select(g => (double)g).Should().Equal(expected, (a, b) => Math.Abs(a - b) < 1e-5);
    }

    [Fact]
    public void Patch_by_patch_with_a_cache_equals_the_whole_sequence()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        manual_seed(11);
        using var model = new BGptLMHeadModel(Config);
        model.eval();
        var random = new Random(5);
        var tokens = FixtureModels.Tokens(ByteEncoder.Encode(Enumerable.Range(0, 100).Select(_ => (byte)random.Next(256)).ToArray(), "bin"u8.ToArray(), Config));
        var whole = model.PatchDecoder.forward(tokens);                                // [1, N, H]
        using var cache = model.PatchDecoder.Transformer.NewCache();
        var parts = new List<Tensor>();
        for (long start = 0; start < tokens.shape[1]; start += Config.PatchSize)
            parts.Add(model.PatchDecoder.forward(tokens.narrow(1, start, Config.PatchSize), null, cache));
        var stepped = cat(parts, 1);
        stepped.allclose(whole, rtol: 0, atol: 1e-5).Should().BeTrue("the first byte of each new patch follows the cached patch's last byte");

        // Without the cached last token the first byte of each patch would pair with the start symbol instead.
        using var plain = model.PatchDecoder.Transformer.NewCache();
        var wrong = cat(Enumerable.Range(0, (int)(tokens.shape[1] / Config.PatchSize))
            .Select(i => model.PatchDecoder.forward(tokens.narrow(1, i * Config.PatchSize, Config.PatchSize))).ToList(), 1);
        wrong.allclose(whole, rtol: 0, atol: 1e-3).Should().BeFalse("the test can tell the two apart");
    }

    [Theory]
    [InlineData(TruncationStrategy.Head)]
    [InlineData(TruncationStrategy.HeadTail)]
    public void The_ONNX_graph_matches_the_TorchSharp_model(TruncationStrategy truncation)
    {
        manual_seed(7);
        using var cls = new BGptClassifier(Config, 3);
        using var lm = new BGptLMHeadModel(Config);
        cls.eval(); lm.eval();
        using var clsRunner = new OnnxRunner(BGptOnnxExporter.Export(ModelWeights.Export(cls), Config, new BGptOnnxOptions { Head = OnnxHead.Classifier, Truncation = truncation }));
        using var lmRunner = new OnnxRunner(BGptOnnxExporter.Export(ModelWeights.Export(lm), Config, new BGptOnnxOptions { Head = OnnxHead.BitsPerByte, Truncation = truncation }));
        var random = new Random(9);
        double worst = 0;
        foreach (var length in new[] { 0, 1, 17, 480, 481, 1500 })
        {
            var content = new byte[length];
            random.NextBytes(content);
            var extension = "txt"u8.ToArray();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var tokens = FixtureModels.Tokens(ByteEncoder.Encode(content, extension, Config, truncation));
            var expected = cls.forward(tokens).data<float>().ToArray();
            var actual = clsRunner.Run(content, extension)[BGptOnnxExporter.LogitsOutput].Values;
            for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
            double loss = lmRunner.Run(content, extension)[BGptOnnxExporter.LossOutput].Values[0];
            loss.Should().BeApproximately(lm.Loss(tokens).item<float>(), 1e-4, $"loss of {length} bytes");
        }
        worst.Should().BeLessThan(1e-4);
        output.WriteLine($"{truncation}: logits max abs error {worst:E2}");

        // The bigram rows matter: the graph without them (a model of the same weights, BigramBuckets 0) differs.
        var weights = ModelWeights.Export(cls);
        weights.Remove(BGptStateDictLayout.BigramEmbedding);
        using var without = new OnnxRunner(BGptOnnxExporter.Export(weights, Config with { BigramBuckets = 0 }, new BGptOnnxOptions { Head = OnnxHead.Classifier, Truncation = truncation }));
        var text = "some bytes"u8.ToArray();
        without.Run(text, [])[BGptOnnxExporter.LogitsOutput].Values.Should().NotEqual(clsRunner.Run(text, [])[BGptOnnxExporter.LogitsOutput].Values);
    }

    [Fact]
    public void Checkpoints_keep_the_bucket_count_and_reject_a_mis_shaped_table()
    {
        manual_seed(13);
        using var cls = new BGptClassifier(Config, 2);
        var path = Path.Combine(_dir, "bigram.pth");
        BGptModels.ToCheckpoint(cls, ["a", "b"]).Save(path, CheckpointFormat.TrainingCheckpoint);
        var checkpoint = BGptCheckpoint.Load(path);
        checkpoint.Config.BigramBuckets.Should().Be(61);
        checkpoint.Weights[BGptStateDictLayout.BigramEmbedding].Shape.Should().Equal(61, Config.HiddenSize);
        using var loaded = BGptModels.LoadClassifier(path);
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            cls.eval(); loaded.eval();
            var tokens = FixtureModels.Tokens(ByteEncoder.Encode("hello, bigrams"u8.ToArray(), [], Config));
            loaded.forward(tokens).allclose(cls.forward(tokens), rtol: 0, atol: 0).Should().BeTrue();
        }

        var weights = ModelWeights.Export(cls);
        weights[BGptStateDictLayout.BigramEmbedding] = TensorData.FromFloats(new float[61 * 7], [61, 7]);
        // Loading infers the configuration from the same shapes (BGptConfigInference), so this is what a bad file gets.
        var act = () => new BGptCheckpoint(weights, ["a", "b"], Config.NumHeads);
        act.Should().Throw<BGptCheckpointException>().Where(e => e.TensorKey == BGptStateDictLayout.BigramEmbedding && e.Message.Contains("[61, 7]"));
    }

    [Fact]
    public void A_negative_bucket_count_is_rejected_by_name()
    {
        var act = () => (ReferenceFixtures.Config with { BigramBuckets = -1 }).Validate();
        act.Should().Throw<ArgumentException>().WithMessage("*BigramBuckets*");
    }
}
