using FluentAssertions;
using Microsoft.ML.BGpt.Modeling;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>Forward passes against the original's outputs, case by case (tokens from the fixtures).</summary>
public class ReferenceForwardTests(ITestOutputHelper output)
{
    private static readonly Lazy<BGptLMHeadModel> Lm = new(() => FixtureModels.LanguageModel());
    private static readonly Lazy<BGptClassifier> Cls = new(() => FixtureModels.Classifier());
    private const double Tolerance = 1e-4;

    [Theory]
    [MemberData(nameof(ReferenceFixtures.CaseIds), MemberType = typeof(ReferenceFixtures))]
    public void Patch_features_pooled_features_and_logits_match(string id)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tokens = FixtureModels.Tokens(ReferenceFixtures.Ints($"cases/{id}/tokens.npy"));
        var hidden = Lm.Value.PatchDecoder.forward(tokens);
        var h = ReferenceFixtures.Floats($"cases/{id}/last_hidden_state.npy", out var hs);
        var e1 = Compare.MaxAbs(hidden, h, hs, Tolerance, "last_hidden_state");

        var pooled = Cls.Value.Features(tokens);
        var e2 = Compare.MaxAbs(pooled, ReferenceFixtures.Floats($"cases/{id}/pooled.npy", out var ps), ps, Tolerance, "pooled");
        var logits = Cls.Value.forward(tokens);
        var e3 = Compare.MaxAbs(logits, ReferenceFixtures.Floats($"cases/{id}/cls_logits.npy", out var ls), ls, Tolerance, "cls_logits");
        output.WriteLine($"case {id}: max abs error hidden {e1:E2}, pooled {e2:E2}, logits {e3:E2}");
    }

    [Theory]
    [MemberData(nameof(ReferenceFixtures.CaseIds), MemberType = typeof(ReferenceFixtures))]
    public void Language_model_loss_and_byte_logits_match(string id)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tokens = FixtureModels.Tokens(ReferenceFixtures.Ints($"cases/{id}/tokens.npy"));
        var masks = tensor(ReferenceFixtures.Longs($"cases/{id}/lm_masks_in.npy"), new long[] { 1, tokens.shape[1] / 16 });
        var before = masks.clone();
        var loss = Lm.Value.Loss(tokens, masks).item<float>();
        Compare.Relative(loss, ReferenceFixtures.Floats($"cases/{id}/lm_loss.npy")[0], 1e-5, $"lm_loss of case {id}");
        masks.data<long>().ToArray().Should().Equal(before.data<long>().ToArray(), "unlike the original, the mask is not modified");
        var logits = Lm.Value.ByteLogits(tokens, masks);
        var e = Compare.MaxAbs(logits, ReferenceFixtures.Floats($"cases/{id}/lm_byte_logits.npy", out var s), s, Tolerance, "lm_byte_logits");
        output.WriteLine($"case {id}: loss {loss} (reference {ReferenceFixtures.Floats($"cases/{id}/lm_loss.npy")[0]}), byte logits max abs error {e:E2}");
    }

    [Fact]
    public void Padded_batch_matches()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var patches = tensor(ReferenceFixtures.Ints("batch/patches.npy").Select(t => (long)t).ToArray(), new long[] { 3, 336 });
        var masks = tensor(ReferenceFixtures.Longs("batch/masks_in.npy"), new long[] { 3, 21 });

        var loss = Lm.Value.Loss(patches, masks).item<float>();
        Compare.Relative(loss, 5.2923102378845215, 1e-5, "batch lm_loss");
        var e1 = Compare.MaxAbs(Lm.Value.ByteLogits(patches, masks), ReferenceFixtures.Floats("batch/lm_byte_logits.npy", out var s1), s1, Tolerance, "batch lm_byte_logits");
        var e2 = Compare.MaxAbs(Lm.Value.PatchDecoder.forward(patches, masks), ReferenceFixtures.Floats("batch/last_hidden_state_with_masks.npy", out var s2), s2, Tolerance, "hidden with masks");
        var e3 = Compare.MaxAbs(Lm.Value.PatchDecoder.forward(patches), ReferenceFixtures.Floats("batch/last_hidden_state_no_masks.npy", out var s3), s3, Tolerance, "hidden without masks");
        var e4 = Compare.MaxAbs(Cls.Value.forward(patches), ReferenceFixtures.Floats("batch/cls_logits_padded_no_mask.npy", out var s4), s4, Tolerance, "padded classification without mask");
        output.WriteLine($"batch: loss {loss}; max abs errors {e1:E2} {e2:E2} {e3:E2} {e4:E2}");
    }

    [Fact]
    public void Masked_padded_batch_classification_equals_one_file_at_a_time()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var patches = tensor(ReferenceFixtures.Ints("batch/patches.npy").Select(t => (long)t).ToArray(), new long[] { 3, 336 });
        var masks = tensor(ReferenceFixtures.Longs("batch/masks_in.npy"), new long[] { 3, 21 });
        var batched = Cls.Value.forward(patches, masks);
        foreach (var (row, id) in new[] { (0, "01"), (1, "05"), (2, "04") })
        {
            var single = ReferenceFixtures.Floats($"cases/{id}/cls_logits.npy", out var shape);
            Compare.MaxAbs(batched[row].unsqueeze(0), single, shape, Tolerance, $"masked batch row {row}");
        }
    }
}
