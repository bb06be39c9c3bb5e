using FluentAssertions;
using Microsoft.ML.BGpt.Modeling;
using Microsoft.ML.BGpt.Training;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>One AdamW step (<see cref="BGptAdamW"/>: torch 1.13 defaults, weight decay 0.01) in eval mode, against the original's.</summary>
public class TrainingStepTests(ITestOutputHelper output)
{
    private static double MaxAbs(float[] a, float[] b) => a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();

    [Fact]
    public void Classifier_step_matches()
    {
        using var model = FixtureModels.Classifier();
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using var optimizer = new BGptAdamW(model.parameters(), learningRate: 0.001, weightDecay: 0.01);
        using var scope = NewDisposeScope();
        var tokens = FixtureModels.Tokens(ReferenceFixtures.Ints("train_step_cls/tokens.npy"));

        var logits = model.forward(tokens);
        Compare.MaxAbs(logits, ReferenceFixtures.Floats("train_step_cls/logits_before.npy", out var s), s, 1e-4, "logits before");
        var loss = nn.functional.cross_entropy(logits, tensor(new long[] { 2 }));
        Compare.Relative(loss.item<float>(), 1.5177596807479858, 1e-5, "loss before");
        loss.backward();
        var eGrad = Compare.MaxAbs(parameters["classifier.weight"].grad!, ReferenceFixtures.Floats("train_step_cls/classifier_weight_grad.npy", out s), s, 1e-4, "classifier weight grad");
        Compare.MaxAbs(parameters["classifier.bias"].grad!, ReferenceFixtures.Floats("train_step_cls/classifier_bias_grad.npy", out s), s, 1e-4, "classifier bias grad");
        parameters["patch_level_decoder.base.wte.weight"].grad.Should().BeNull("the unused token embedding gets no gradient, so AdamW skips it");
        optimizer.Step();

        using (no_grad())
            Compare.MaxAbs(model.forward(tokens), ReferenceFixtures.Floats("train_step_cls/logits_after.npy", out s), s, 1e-4, "logits after");
        Compare.MaxAbs(parameters["classifier.weight"], ReferenceFixtures.Floats("train_step_cls/classifier_weight_after.npy", out s), s, 1e-4, "classifier weight after");
        Compare.MaxAbs(parameters["classifier.bias"], ReferenceFixtures.Floats("train_step_cls/classifier_bias_after.npy", out s), s, 1e-4, "classifier bias after");
        Compare.MaxAbs(parameters["patch_level_decoder.base.wpe.weight"], ReferenceFixtures.Floats("train_step_cls/wpe_after.npy", out s), s, 1e-4, "wpe after (rows past the input only decay)");

        var after = FixtureModels.StateDict("cls_after_step.state_dict.pth");
        double max = 0;
        foreach (var (key, value) in ModelWeights.Export(model))
            max = Math.Max(max, MaxAbs(value.ToFloatArray(), after[key].ToFloatArray()));
        max.Should().BeLessThan(1e-4);
        output.WriteLine($"classifier step: grad error {eGrad:E2}; largest weight error after the step over all tensors {max:E2}");
    }

    [Fact]
    public void Language_model_step_matches()
    {
        using var model = FixtureModels.LanguageModel("lm_prestep.state_dict.pth");
        using var optimizer = new BGptAdamW(model.parameters(), learningRate: 0.0001, weightDecay: 0.01);
        using var scope = NewDisposeScope();
        var patches = tensor(ReferenceFixtures.Ints("batch/patches.npy").Select(t => (long)t).ToArray(), new long[] { 3, 336 });
        var masks = tensor(ReferenceFixtures.Longs("batch/masks_in.npy"), new long[] { 3, 21 });
        var loss = model.Loss(patches, masks);
        Compare.Relative(loss.item<float>(), 5.3853302001953125, 1e-5, "LM loss before the step");
        loss.backward();
        optimizer.Step();

        var after = FixtureModels.StateDict("lm.state_dict.pth");
        double max = 0;
        string worst = "";
        foreach (var (key, value) in ModelWeights.Export(model))
        {
            var e = MaxAbs(value.ToFloatArray(), after[key].ToFloatArray());
            if (e > max) (max, worst) = (e, key);
        }
        max.Should().BeLessThan(1e-4, $"the largest difference is in {worst}");
        output.WriteLine($"LM step: largest weight error {max:E2} ({worst})");
    }
}
