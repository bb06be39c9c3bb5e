using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>
/// The byte-level decoder: a GPT-2 language model over 257 symbols that, from a patch feature at position 0,
/// predicts the bytes of the next patch one by one. Its output projection is tied to its token embeddings.
/// </summary>
public sealed class ByteLevelDecoder : nn.Module
{
    private readonly Gpt2LMHead @base;

    /// <summary>A randomly initialised byte-level decoder (<see cref="BGptConfig.ByteNumLayers"/> layers over PATCH_SIZE + 1 positions).</summary>
    public ByteLevelDecoder(BGptConfig config) : base(nameof(ByteLevelDecoder))
    {
        @base = new Gpt2LMHead(config);
        RegisterComponents();
    }

    /// <summary>
    /// Teacher-forced logits: row m is the feature of patch m followed by the bytes of its target patch.
    /// </summary>
    /// <param name="features">[M, H] patch features.</param>
    /// <param name="targets">[M, P] bytes of the next patches (0..256).</param>
    /// <returns>[M, P + 1, 257]; position j predicts target byte j (the last position is unused).</returns>
    public Tensor forward(Tensor features, Tensor targets)
    {
        using var embedded = @base.Embed(targets.to_type(ScalarType.Int64));        // [M, P, H]
        using var inputs = cat(new[] { features.unsqueeze(1), embedded }, 1);       // [M, P + 1, H]
        return @base.forward(inputs);
    }

    /// <summary>Teacher-forced mean cross-entropy of the target bytes, in nats (GPT2LMHeadModel's loss).</summary>
    /// <remarks>
    /// forward's last position (after the last target byte) predicts nothing, and attention is causal, so it changes no
    /// other position: the loss feeds [feature, target bytes 0..P-2] only, P tokens instead of P + 1 (as the ONNX graph).
    /// </remarks>
    public Tensor Loss(Tensor features, Tensor targets)
    {
        long p = targets.shape[1];
        using var labels = targets.to_type(ScalarType.Int64);                        // [M, P]
        using var known = labels.narrow(1, 0, p - 1);                                // [M, P - 1]
        using var embedded = @base.Embed(known);                                     // [M, P - 1, H]
        using var inputs = cat(new[] { features.unsqueeze(1), embedded }, 1);       // [M, P, H]
        using var logits = @base.forward(inputs);                                    // [M, P, 257]
        using var predicting = logits.reshape(-1, logits.shape[2]);                  // [M * P, 257]
        using var flat = labels.reshape(-1);
        using var wide = predicting.dtype == ScalarType.Float32 ? null : predicting.to_type(ScalarType.Float32); // bf16 models: float32 loss
        return nn.functional.cross_entropy(wide ?? predicting, flat);
    }

    internal Gpt2LMHead Head => @base;
}

/// <summary>transformers' GPT2LMHeadModel: the GPT-2 and an output projection tied to <c>wte</c>.</summary>
public sealed class Gpt2LMHead : nn.Module
{
    private readonly Gpt2Model transformer;

    /// <summary>A randomly initialised GPT-2 over the 257 byte tokens, PATCH_SIZE + 1 positions.</summary>
    public Gpt2LMHead(BGptConfig config) : base(nameof(Gpt2LMHead))
    {
        transformer = new Gpt2Model(config, config.VocabSize, config.PatchSize + 1, config.ByteNumLayers);
        RegisterComponents();
    }

    /// <summary>The GPT-2 body (its <c>wte</c> is also the output projection).</summary>
    public Gpt2Model Transformer => transformer;

    /// <summary>Rows of the token embedding table: [..] tokens -> [.., H].</summary>
    public Tensor Embed(Tensor tokens)
    {
        var table = transformer.TokenEmbedding;
        using var flat = tokens.reshape(-1);
        var shape = tokens.shape.Append(table.shape[1]).ToArray();
        return table.index_select(0, flat).view(shape);
    }

    /// <summary>[B, T, H] embeddings -> [B, T, 257] logits.</summary>
    public Tensor forward(Tensor inputsEmbeds, KvCache? cache = null)
    {
        using var hidden = transformer.forward(inputsEmbeds, null, cache);
        return nn.functional.linear(hidden, transformer.TokenEmbedding);
    }
}
