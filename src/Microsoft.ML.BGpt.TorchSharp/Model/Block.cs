using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>A pre-LayerNorm GPT-2 transformer block.</summary>
public sealed class Block : nn.Module
{
    private readonly nn.Module<Tensor, Tensor> ln_1, ln_2;
    private readonly CausalSelfAttention attn;
    private readonly Mlp mlp;

    /// <summary>One pre-LayerNorm block; <paramref name="layers"/> (the stack's depth) scales the residual projections' init.</summary>
    public Block(BGptConfig config, int layers) : base(nameof(Block))
    {
        ln_1 = nn.LayerNorm(config.HiddenSize, config.LayerNormEpsilon);
        attn = new CausalSelfAttention(config.HiddenSize, config.NumHeads, layers, config.Dropout);
        ln_2 = nn.LayerNorm(config.HiddenSize, config.LayerNormEpsilon);
        mlp = new Mlp(config.HiddenSize, config.InnerSize, layers, config.Dropout);
        RegisterComponents();
    }

    /// <summary>x + attn(ln_1(x)), then + mlp(ln_2(.)); see <see cref="CausalSelfAttention"/> for the mask and the cache.</summary>
    /// <param name="x">[B, T, H]</param>
    /// <param name="keyMask">[B, past + T] booleans, true for real positions; null when every position is real.</param>
    /// <param name="cache">Keys and values of earlier positions, extended in place; null without one.</param>
    /// <param name="layer">This block's index in the cache.</param>
    public Tensor forward(Tensor x, Tensor? keyMask, KvCache? cache, int layer) // [B, T, H] -> [B, T, H]
    {
        // The block's intermediates go when it returns (autograd keeps what backward needs): without this scope, an
        // inference forward held every layer's activations until the caller's scope ended (~240 MB at 8 KB).
        using var scope = NewDisposeScope();
        x = Ops.Add(x, attn.forward(ln_1.forward(x), keyMask, cache, layer));
        return Ops.Add(x, mlp.forward(ln_2.forward(x))).MoveToOuterDisposeScope();
    }
}
