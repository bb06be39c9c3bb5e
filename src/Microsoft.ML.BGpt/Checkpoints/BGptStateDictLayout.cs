namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>What a state dict entry is in the original PyTorch modules.</summary>
internal enum EntryRole
{
    /// <summary>A trainable parameter (appears in named_parameters()).</summary>
    Parameter,
    /// <summary>GPT-2's attn.bias: uint8 lower-triangular causal mask [1, 1, n, n].</summary>
    CausalMask,
    /// <summary>GPT-2's attn.masked_bias: float32 scalar -1e4.</summary>
    MaskedBias,
    /// <summary>byte_level_decoder.base.lm_head.weight: tied to the byte decoder's wte, so not a separate parameter.</summary>
    TiedLmHead,
}

/// <summary>One key of the original state dict with its expected shape.</summary>
internal sealed record StateDictEntry(string Key, long[] Shape, EntryRole Role);

/// <summary>
/// The state dict keys of the original bGPT modules, in the order PyTorch produces them (module registration order).
/// named_parameters() follows the same order minus buffers and the tied lm_head, which is what AdamW's
/// index-based state refers to.
/// </summary>
internal static class BGptStateDictLayout
{
    public const string Patch = "patch_level_decoder.";
    public const string ByteBase = "byte_level_decoder.base.";
    public const string LmHead = "byte_level_decoder.base.lm_head.weight";
    public const string ByteWte = "byte_level_decoder.base.transformer.wte.weight";
    public const string BigramEmbedding = Patch + "bigram_embedding.weight";
    public const string ClassifierWeight = "classifier.weight";
    public const string ClassifierBias = "classifier.bias";

    public static List<StateDictEntry> Build(BGptCheckpointKind kind, BGptConfig c, int numLabels)
    {
        long h = c.HiddenSize, v = c.VocabSize;
        var list = new List<StateDictEntry>
        {
            new(Patch + "patch_embedding.weight", [h, (long)c.PatchSize * v], EntryRole.Parameter),
            new(Patch + "patch_embedding.bias", [h], EntryRole.Parameter),
        };
        // Not in the original: BGptConfig.BigramBuckets.
        if (c.BigramBuckets > 0) list.Add(new(BigramEmbedding, [c.BigramBuckets, h], EntryRole.Parameter));
        list.AddRange(new StateDictEntry[]
        {
            // GPT2Model(vocab_size=1) keeps an unused [1, H] token embedding.
            new(Patch + "base.wte.weight", [1, h], EntryRole.Parameter),
            new(Patch + "base.wpe.weight", [c.PatchLength, h], EntryRole.Parameter),
        });
        AddBlocks(list, Patch + "base.", c.PatchNumLayers, c.PatchLength, c);
        if (kind == BGptCheckpointKind.LanguageModel)
        {
            var t = ByteBase + "transformer.";
            list.Add(new(ByteWte, [v, h], EntryRole.Parameter));
            list.Add(new(t + "wpe.weight", [c.PatchSize + 1, h], EntryRole.Parameter));
            AddBlocks(list, t, c.ByteNumLayers, c.PatchSize + 1, c);
            list.Add(new(LmHead, [v, h], EntryRole.TiedLmHead));
        }
        else
        {
            list.Add(new(ClassifierWeight, [numLabels, h], EntryRole.Parameter));
            list.Add(new(ClassifierBias, [numLabels], EntryRole.Parameter));
        }
        return list;
    }

    private static void AddBlocks(List<StateDictEntry> list, string prefix, int layers, long positions, BGptConfig c)
    {
        long h = c.HiddenSize, inner = c.InnerSize;
        for (int i = 0; i < layers; i++)
        {
            var p = $"{prefix}h.{i}.";
            list.Add(new(p + "ln_1.weight", [h], EntryRole.Parameter));
            list.Add(new(p + "ln_1.bias", [h], EntryRole.Parameter));
            list.Add(new(p + "attn.bias", [1, 1, positions, positions], EntryRole.CausalMask));
            list.Add(new(p + "attn.masked_bias", [], EntryRole.MaskedBias));
            // GPT-2's Conv1D stores weights as [in, out].
            list.Add(new(p + "attn.c_attn.weight", [h, 3 * h], EntryRole.Parameter));
            list.Add(new(p + "attn.c_attn.bias", [3 * h], EntryRole.Parameter));
            list.Add(new(p + "attn.c_proj.weight", [h, h], EntryRole.Parameter));
            list.Add(new(p + "attn.c_proj.bias", [h], EntryRole.Parameter));
            list.Add(new(p + "ln_2.weight", [h], EntryRole.Parameter));
            list.Add(new(p + "ln_2.bias", [h], EntryRole.Parameter));
            list.Add(new(p + "mlp.c_fc.weight", [h, inner], EntryRole.Parameter));
            list.Add(new(p + "mlp.c_fc.bias", [inner], EntryRole.Parameter));
            list.Add(new(p + "mlp.c_proj.weight", [inner, h], EntryRole.Parameter));
            list.Add(new(p + "mlp.c_proj.bias", [h], EntryRole.Parameter));
        }
        list.Add(new(prefix + "ln_f.weight", [h], EntryRole.Parameter));
        list.Add(new(prefix + "ln_f.bias", [h], EntryRole.Parameter));
    }

    /// <summary>The value a buffer has in a freshly built original module.</summary>
    public static TensorData CreateBuffer(StateDictEntry e)
    {
        if (e.Role == EntryRole.MaskedBias) return TensorData.FromFloats([-1e4f], []);
        long n = e.Shape[^1];
        var mask = new byte[n * n];
        for (long r = 0; r < n; r++)
            for (long col = 0; col <= r; col++) mask[r * n + col] = 1;
        return new TensorData(TensorDType.UInt8, e.Shape, mask);
    }
}
