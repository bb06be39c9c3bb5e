using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>GPT-2's feed-forward block: c_fc, tanh-approximated GELU ("gelu_new"), c_proj.</summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly Conv1D c_fc, c_proj;
    private readonly double _dropout;

    /// <summary>GPT-2's MLP (hidden -> inner -> hidden, tanh GELU); <paramref name="layers"/> scales the output projection's init.</summary>
    public Mlp(int hidden, int inner, int layers, double dropout) : base(nameof(Mlp))
    {
        _dropout = dropout;
        c_fc = new Conv1D(hidden, inner);
        c_proj = new Conv1D(inner, hidden, 0.02 / Math.Sqrt(2 * layers));
        RegisterComponents();
    }

    /// <summary>dropout(c_proj(gelu(c_fc(x)))): [B, T, H] -> [B, T, H].</summary>
    public override Tensor forward(Tensor x) // [B, T, H] -> [B, T, H]
    {
        using var h = c_fc.forward(x);                                        // [B, T, inner]
        using var a = F.gelu(h, TorchSharp.Modules.GELU.Approximate.tanh);
        return Dropout.Apply(c_proj.forward(a), _dropout, training);
    }
}
