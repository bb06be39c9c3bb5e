using FluentAssertions;
using Microsoft.ML.BGpt.Training;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests.Training;

/// <summary><see cref="TrainingPrecision.BFloat16Mixed"/>: a bfloat16 working copy, float32 master weights and AdamW.</summary>
[Collection(TorchGlobalState.Name)]
public class MixedPrecisionTests(ITestOutputHelper output)
{
    private static ClassifierTrainingOptions Options(TrainingPrecision precision, int epochs = 6)
    {
        var o = ToyData.FastOptions(epochs);
        o.Precision = precision;
        o.Dropout = 0;
        return o;
    }

    [Fact]
    public void Bf16_mixed_training_learns_like_fp32_and_returns_a_float32_model()
    {
        var train = ToyData.Separable(32, seed: 1);
        var validation = ToyData.Separable(16, seed: 2);
        using var initial = ToyData.Classifier();
        var fp32 = ClassifierTrainer.Train(train, validation, initial, Options(TrainingPrecision.Float32));
        var bf16 = ClassifierTrainer.Train(train, validation, initial, Options(TrainingPrecision.BFloat16Mixed));
        using var a = fp32.Model;
        using var b = bf16.Model;
        for (int i = 0; i < fp32.History.Count; i++)
            output.WriteLine($"epoch {i + 1}: train loss fp32 {fp32.History[i].TrainLoss:F4} bf16 {bf16.History[i].TrainLoss:F4}, " +
                             $"accuracy {fp32.History[i].ValidationAccuracy:P0} / {bf16.History[i].ValidationAccuracy:P0}");

        b.parameters().Should().OnlyContain(p => p.dtype == ScalarType.Float32, "the master weights are what training returns");
        bf16.History[0].TrainLoss.Should().BeApproximately(fp32.History[0].TrainLoss, 0.02 * fp32.History[0].TrainLoss,
            "the first epoch starts from the same weights; only bfloat16 rounding differs");
        bf16.History[^1].TrainLoss.Should().BeLessThan(bf16.History[0].TrainLoss * 0.5);
        ClassifierTrainer.Evaluate(b, validation).Accuracy.Should().BeGreaterThanOrEqualTo(0.9);
        ToyData.Weights(b).Should().NotEqual(ToyData.Weights(a), "bfloat16 rounding makes a different (not a copied) run");
    }

    [Fact]
    public void Bf16_mixed_pretraining_lowers_the_loss_with_accumulated_gradients()
    {
        var data = ToyData.Repetitive(24, seed: 3);
        var options = new PretrainingOptions
        {
            Epochs = 4, BatchSize = 4, LearningRate = 3e-3, Threads = 1, EarlyStoppingPatience = 0, GradientAccumulationSteps = 2,
            Precision = TrainingPrecision.BFloat16Mixed, Dropout = 0,
        };
        var result = Pretrainer.Train(data, null, ToyData.Tiny, null, options);
        options.Precision = TrainingPrecision.Float32;
        var reference = Pretrainer.Train(data, null, ToyData.Tiny, null, options);
        using var model = result.Model;
        using var fp32 = reference.Model;
        for (int i = 0; i < result.History.Count; i++)
            output.WriteLine($"epoch {i + 1}: train bf16 {result.History[i].TrainLoss:F4} fp32 {reference.History[i].TrainLoss:F4}, validation {result.History[i].ValidationLoss:F4} / {reference.History[i].ValidationLoss:F4}");
        result.History[^1].TrainLoss.Should().BeLessThan(result.History[0].TrainLoss * 0.85);
        result.History[^1].ValidationLoss!.Value.Should().BeApproximately(reference.History[^1].ValidationLoss!.Value, 0.03 * reference.History[^1].ValidationLoss!.Value);
        model.parameters().Should().OnlyContain(p => p.dtype == ScalarType.Float32);
    }

    [Fact]
    public void The_working_copy_is_bfloat16_and_its_gradients_accumulate_into_float32()
    {
        using var master = ToyData.Classifier();
        using var copy = new BFloat16Copy(master, new Modeling.BGptClassifier(ToyData.Tiny, 2));
        copy.Model.parameters().Should().OnlyContain(p => p.dtype == ScalarType.BFloat16);
        var m = master.parameters().ToArray();
        var w = copy.Model.parameters().ToArray();
        using (no_grad()) w[0].to_type(ScalarType.Float32).allclose(m[0], rtol: 1e-2, atol: 1e-3).Should().BeTrue("the copy holds the master's weights, rounded");

        using var tokens = randint(0, 257, new long[] { 4, 16 * 4 }, ScalarType.Int64);
        for (int pass = 0; pass < 2; pass++)
        {
            using var scope = NewDisposeScope();
            ((Modeling.BGptClassifier)copy.Model).forward(tokens).to_type(ScalarType.Float32).sum().backward();
            copy.AccumulateGradients(first: pass == 0);
        }
        using (NewDisposeScope())
        {
            m[^1].grad!.dtype.Should().Be(ScalarType.Float32);
            w[^1].grad!.abs().sum().to_type(ScalarType.Float32).item<float>().Should().Be(0, "the copy's gradients are handed over and zeroed");
            // The classifier bias gradient of sum(logits) is the batch size per pass: 2 passes x 4 rows.
            m[^1].grad!.allclose(full(2, 8f), rtol: 0, atol: 1e-6).Should().BeTrue();
        }
    }

    [Fact]
    public void An_undefined_precision_is_rejected_by_name()
    {
        var o = ToyData.FastOptions();
        o.Precision = (TrainingPrecision)7;
        var act = () => o.Validate();
        act.Should().Throw<ArgumentException>().WithMessage("*Precision*");
    }
}
