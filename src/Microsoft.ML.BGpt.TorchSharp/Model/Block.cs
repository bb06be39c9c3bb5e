using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>A pre-LayerNorm GPT-2 transformer block.</summary>
public sealed class Block : nn.Module
{
    private readonly nn.Module<Tensor, Tensor> ln_1, ln_2;
    private readonly CausalSelfAttention attn;
    private readonly Mlp mlp;

    public Block(BGptConfig config, int layers) : base(nameof(Block))
    {
        ln_1 = nn.LayerNorm(config.HiddenSize, config.LayerNormEpsilon);
        attn = new CausalSelfAttention(config.HiddenSize, config.NumHeads, layers, config.Dropout);
        ln_2 = nn.LayerNorm(config.HiddenSize, config.LayerNormEpsilon);
        mlp = new Mlp(config.HiddenSize, config.InnerSize, layers, config.Dropout);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor? keyMask, KvCache? cache, int layer) // [B, T, H] -> [B, T, H]
    {
        // The block's intermediates go when it returns (autograd keeps what backward needs): without this scope, an
        // inference forward held every layer's activations until the caller's scope ended (~240 MB at 8 KB).
        using var scope = NewDisposeScope();
        x = Ops.Add(x, attn.forward(ln_1.forward(x), keyMask, cache, layer));
        return Ops.Add(x, mlp.forward(ln_2.forward(x))).MoveToOuterDisposeScope();
    }
}
