namespace Microsoft.ML.BGpt.Benchmarks;

/// <summary>
/// Model FLOP counts (multiply and add counted as 2 FLOPs), 2·params·tokens style, written out:
/// <list type="bullet">
/// <item>Per token and layer, the four linear maps (qkv H→3H, attention projection H→H, c_fc H→I, c_proj I→H):
/// <c>2·(4·H² + 2·H·I)</c> = 24·H² for I = 4H.</item>
/// <item>Per sequence of T tokens and layer, attention scores Q·Kᵀ and the weighted sum P·V: <c>2·2·T²·H</c> (the full
/// T×T square: causal kernels that skip the upper half do less work than this counts).</item>
/// <item>Patch-level decoder forward, B sequences of N patches, L_p layers:
/// <c>B·(N·L_p·2·(4H² + 2HI) + L_p·4·N²·H)</c>. The patch embedding (a gather-sum of 16 rows per patch), LayerNorms,
/// GELU, softmax and residual adds are not counted.</item>
/// <item>Classifier forward: patch decoder + <c>2·B·H·labels</c>.</item>
/// <item>LM loss (bits per byte) of one sequence of N patches: patch decoder + byte-level decoder on the N−1 predicted
/// patches, T = P tokens each (the useful ones; TorchSharp feeds P+1), L_b layers, plus the tied output projection:
/// <c>(N−1)·(P·L_b·2·(4H² + 2HI) + L_b·4·P²·H + P·2·H·257)</c>.</item>
/// <item>Training step: 3 × the forward (backward = 2 × forward); AdamW's ~10 FLOPs per parameter are not counted.</item>
/// <item>Generation (KV cache), per patch of P bytes at context n patches: one patch-decoder token
/// <c>L_p·(2·(4H² + 2HI) + 4·n·H)</c> plus P byte-decoder tokens at positions t = 1..P
/// <c>Σ L_b·(2·(4H² + 2HI) + 4·t·H) + 2·H·257</c>.</item>
/// <item>Plain matmul n×n×n: <c>2·n³</c>.</item>
/// </list>
/// </summary>
internal static class Flops
{
    private const int Vocab = 257;

    public static double LinearPerTokenLayer(BGptConfig c) =>
        2.0 * (4.0 * c.HiddenSize * c.HiddenSize + 2.0 * c.HiddenSize * c.InnerSize);

    public static double AttentionPerSequenceLayer(BGptConfig c, long tokens) => 4.0 * tokens * tokens * c.HiddenSize;

    public static double PatchDecoderForward(BGptConfig c, int batch, long patches) =>
        batch * (patches * c.PatchNumLayers * LinearPerTokenLayer(c) + c.PatchNumLayers * AttentionPerSequenceLayer(c, patches));

    public static double ClassifierForward(BGptConfig c, int batch, long patches, int labels) =>
        PatchDecoderForward(c, batch, patches) + 2.0 * batch * c.HiddenSize * labels;

    public static double ByteDecoderTeacherForced(BGptConfig c, long sequences) =>
        sequences * (c.PatchSize * c.ByteNumLayers * LinearPerTokenLayer(c)
                     + c.ByteNumLayers * AttentionPerSequenceLayer(c, c.PatchSize)
                     + c.PatchSize * 2.0 * c.HiddenSize * Vocab);

    public static double LmLoss(BGptConfig c, long patches) => PatchDecoderForward(c, 1, patches) + ByteDecoderTeacherForced(c, patches - 1);

    public static double TrainingStep(double forward) => 3 * forward;

    public static double GenerationPatch(BGptConfig c, long contextPatches)
    {
        double f = c.PatchNumLayers * (LinearPerTokenLayer(c) + 4.0 * contextPatches * c.HiddenSize);
        for (int t = 1; t <= c.PatchSize; t++)
            f += c.ByteNumLayers * (LinearPerTokenLayer(c) + 4.0 * t * c.HiddenSize) + 2.0 * c.HiddenSize * Vocab;
        return f;
    }

    public static double Matmul(long n) => 2.0 * n * n * n;

    /// <summary>Patches the model sees for a file of <paramref name="bytes"/> bytes under head truncation.</summary>
    public static long Patches(BGptConfig c, long bytes) => Math.Min(ByteEncoder.FullPatchCount(bytes, c.PatchSize), c.PatchLength);

    /// <summary>Bytes of the file the model actually encodes (head truncation).</summary>
    public static long EncodedBytes(BGptConfig c, long bytes) => Math.Min(bytes, (long)(c.PatchLength - 1) * c.PatchSize);

    public const string FormulaMarkdown = """
        FLOPs count a multiply-add as 2. H hidden size, I = 4H MLP width, L_p / L_b patch / byte layers, P = 16 bytes per patch,
        N patches (N = min(ceil(bytes/16) + 2, 512): 66 for 1 KB, 512 for 8 KB), B batch, V = 257.

        | quantity | formula |
        | --- | --- |
        | linear maps per token and layer | 2·(4H² + 2HI) = 24H² |
        | attention per sequence of T tokens and layer | 2·2·T²·H (full square, no causal halving) |
        | patch decoder / features forward | B·(N·L_p·24H² + L_p·4N²H) |
        | classifier forward | features forward + 2·B·H·labels |
        | LM loss / bits per byte (one file) | features forward + (N−1)·(P·L_b·24H² + L_b·4P²H + 2·P·H·V) |
        | training step (forward + backward + AdamW) | 3 × classifier forward (AdamW not counted) |
        | generation, per 16-byte patch at context n | L_p·(24H² + 4nH) + Σ_{t=1..16} (L_b·(24H² + 4tH) + 2HV) |
        | plain matmul n³ | 2n³ |

        Not counted: the patch embedding (a gather-sum), LayerNorm, GELU, softmax, residual adds. Efficiency = model FLOP/s ÷
        the same engine's fp32 2048³ matmul FLOP/s measured in the same run (for reduced-precision rows too, so their
        "efficiency" can exceed 100%).
        """;
}
