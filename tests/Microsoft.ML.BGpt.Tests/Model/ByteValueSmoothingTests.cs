using FluentAssertions;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Tests.Training;
using Microsoft.ML.BGpt.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests.Model;

[Collection(TorchGlobalState.Name)]
public class ByteValueSmoothingTests
{
    [Fact]
    public void The_blur_is_a_unit_norm_gaussian_over_byte_values_that_leaves_padding_and_bias_alone()
    {
        manual_seed(5);
        using var embedding = new PatchEmbedding(patchSize: 2, vocab: 257, hidden: 3);
        var (weight, bias) = (Parameter(embedding, "weight"), Parameter(embedding, "bias"));
        float[,] before = To2D(weight), biasBefore = To2D(bias.unsqueeze(0));

        embedding.SmoothAlongByteValues(3);

        var after = To2D(weight);
        for (int i = 0; i < 2; i++)
            for (int h = 0; h < 3; h++)
            {
                after[i * 257 + 256, h].Should().Be(before[i * 257 + 256, h], "the padding value is not a byte value");
                foreach (int b in new[] { 0, 1, 9, 128, 254, 255 })
                {
                    double sum = 0, norm = 0; // the Gaussian cut at 3 sigma = 9 values, and at 0 and 255
                    for (int c = Math.Max(0, b - 9); c <= Math.Min(255, b + 9); c++)
                    {
                        double g = Math.Exp(-0.5 * (c - b) * (c - b) / 9.0);
                        sum += g * before[i * 257 + c, h];
                        norm += g * g;
                    }
                    after[i * 257 + b, h].Should().BeApproximately((float)(sum / Math.Sqrt(norm)), 1e-6f, $"position {i}, value {b}, unit {h}");
                }
            }
        To2D(bias.unsqueeze(0)).Should().BeEquivalentTo(biasBefore);
    }

    [Fact]
    public void A_fresh_start_keeps_its_scale_and_neighbouring_values_start_close()
    {
        manual_seed(6);
        using var embedding = new PatchEmbedding(patchSize: 16, vocab: 257, hidden: 64);
        var weight = Parameter(embedding, "weight");
        double Neighbours() => Correlation(To2D(weight), 16);
        double iid = Neighbours();

        embedding.SmoothAlongByteValues(3);

        iid.Should().BeInRange(-0.02, 0.02);
        Neighbours().Should().BeGreaterThan(0.9, "exp(-1 / (4 sigma^2)) = 0.97 for sigma 3");
        using var values = weight.view(16, 257, 64).narrow(1, 0, 256);
        values.std().item<float>().Should().BeInRange(0.018f, 0.022f, "the blur keeps N(0, 0.02)");
    }

    [Fact]
    public void Only_a_model_trained_from_scratch_is_smoothed()
    {
        var train = ToyData.Separable(8, seed: 1);
        var options = ToyData.FastOptions(epochs: 1);
        options.LearningRate = 1e-12; // the start, to float precision
        options.ByteValueSmoothing = 3;
        var config = ToyData.Tiny;

        using var scratch = ClassifierTrainer.Train(train, null, 2, config, null, options).Model;
        Correlation(Checkpoint(scratch), config.PatchSize).Should().BeGreaterThan(0.9);

        using var source = ToyData.Classifier();
        var weights = ModelWeights.Export(source);
        using var loaded = ClassifierTrainer.Train(train, null, 2, config, weights, options).Model;
        Checkpoint(loaded).Cast<float>().Should().Equal(Checkpoint(source).Cast<float>(), (a, b) => Math.Abs(a - b) < 1e-6f, "given weights are the start as they are");

        using var pretrained = Pretrainer.Train(train, null, config, null, new PretrainingOptions { Epochs = 1, LearningRate = 1e-12, ByteValueSmoothing = 3, ValidationFraction = 0 }).Model;
        Correlation(To2D(Parameter(pretrained.PatchDecoder.Embedding, "weight")), config.PatchSize).Should().BeGreaterThan(0.9, "pretraining from scratch starts smooth too");
    }

    [Fact]
    public void A_negative_width_is_refused_by_name()
    {
        var options = ToyData.FastOptions();
        options.ByteValueSmoothing = -1;
        var act = () => options.Validate();
        act.Should().Throw<ArgumentException>().WithMessage("*ByteValueSmoothing*");
        using var embedding = new PatchEmbedding(2, 257, 3);
        embedding.Invoking(e => e.SmoothAlongByteValues(0)).Should().Throw<ArgumentOutOfRangeException>();
    }

    private static Tensor Parameter(nn.Module module, string name) => module.named_parameters().Single(p => p.name == name).parameter;

    // The patch embedding of a classifier as [P * 257, H].
    private static float[,] Checkpoint(BGptClassifier model) => To2D(Parameter(model.PatchDecoder.Embedding, "weight"));

    // Mean correlation, over positions and units, of the embeddings of byte values v and v + 1.
    private static double Correlation(float[,] w, int patchSize)
    {
        var x = new List<double>();
        var y = new List<double>();
        int hidden = w.GetLength(1);
        for (int i = 0; i < patchSize; i++)
            for (int h = 0; h < hidden; h++)
                for (int b = 0; b < 255; b++) { x.Add(w[i * 257 + b, h]); y.Add(w[i * 257 + b + 1, h]); }
        double mx = x.Average(), my = y.Average();
        double sxy = x.Zip(y, (a, b) => (a - mx) * (b - my)).Sum();
        return sxy / Math.Sqrt(x.Sum(a => (a - mx) * (a - mx)) * y.Sum(b => (b - my) * (b - my)));
    }

    private static float[,] To2D(Tensor t)
    {
        using var c = t.detach().cpu().contiguous();
        var data = c.data<float>().ToArray();
        int rows = (int)c.shape[0], cols = (int)c.shape[1];
        var result = new float[rows, cols];
        Buffer.BlockCopy(data, 0, result, 0, data.Length * sizeof(float));
        return result;
    }
}
