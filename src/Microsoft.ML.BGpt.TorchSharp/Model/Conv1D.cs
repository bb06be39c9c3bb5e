using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>
/// GPT-2's Conv1D: a linear layer whose weight is stored [in, out] (y = x W + b), so checkpoint tensors
/// <c>c_attn</c>, <c>c_proj</c> and <c>c_fc</c> load without a transpose.
/// </summary>
public sealed class Conv1D : nn.Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.Parameter weight; // [in, out]
    private readonly TorchSharp.Modules.Parameter bias;   // [out]

    /// <summary>Weight [in, out] drawn from N(0, <paramref name="std"/>), bias zero (transformers' init).</summary>
    public Conv1D(long inFeatures, long outFeatures, double std = 0.02) : base(nameof(Conv1D))
    {
        weight = nn.Parameter(torch.empty(inFeatures, outFeatures));
        bias = nn.Parameter(torch.zeros(outFeatures));
        using (no_grad()) nn.init.normal_(weight, 0, std);
        RegisterComponents();
    }

    /// <summary>x · weight + bias over the last dimension: [..., in] -> [..., out].</summary>
    public override Tensor forward(Tensor x) // [..., in] -> [..., out]
    {
        var shape = x.shape;
        using var flat = x.reshape(-1, shape[^1]);
        using var y = addmm(bias, flat, weight, 1, 1);
        shape[^1] = weight.shape[1];
        return y.view(shape);
    }
}
