using Microsoft.ML.BGpt.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Cli;

/// <summary>Per-file inference as the original's inference.py: head truncation, eval mode, batch 1.</summary>
internal static class Inference
{
    public static Tensor Tokens(string file, BGptConfig config)
    {
        var tokens = ByteEncoder.EncodeFile(file, config, TruncationStrategy.Head);
        return tensor(tokens.Select(t => (long)t).ToArray(), new long[] { 1, tokens.Length });
    }

    /// <summary>Mean-pooled patch features [H] of a file.</summary>
    public static float[] Features(PatchLevelDecoder decoder, string file, BGptConfig config)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var hidden = decoder.forward(Tokens(file, config));                 // [1, N, H]
        return hidden.mean(new long[] { 1 })[0].data<float>().ToArray();
    }

    public static float[] Logits(BGptClassifier model, string file)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return model.forward(Tokens(file, model.Config))[0].data<float>().ToArray();
    }

    /// <summary>The original's LM loss of one file, in nats per predicted symbol.</summary>
    public static double Loss(BGptLMHeadModel model, string file)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return model.Loss(Tokens(file, model.Config)).item<float>();
    }

    public static float[] Softmax(float[] logits)
    {
        float max = logits.Max();
        var e = logits.Select(l => MathF.Exp(l - max)).ToArray();
        float sum = e.Sum();
        return e.Select(x => x / sum).ToArray();
    }
}
