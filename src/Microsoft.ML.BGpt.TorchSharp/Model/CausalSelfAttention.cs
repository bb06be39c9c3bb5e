using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>GPT-2 multi-head causal self-attention, through fused scaled-dot-product attention.</summary>
public sealed class CausalSelfAttention : nn.Module
{
    private readonly Conv1D c_attn, c_proj;
    private readonly int _heads;
    private readonly double _dropout;

    /// <summary>GPT-2 attention with <paramref name="heads"/> heads; <paramref name="layers"/> scales the output projection's init.</summary>
    public CausalSelfAttention(int hidden, int heads, int layers, double dropout) : base(nameof(CausalSelfAttention))
    {
        _heads = heads;
        _dropout = dropout;
        c_attn = new Conv1D(hidden, 3 * hidden);
        c_proj = new Conv1D(hidden, hidden, 0.02 / Math.Sqrt(2 * layers)); // GPT-2's scaled init of residual projections
        RegisterComponents();
    }

    /// <param name="x">[B, T, H]</param>
    /// <param name="keyMask">[B, past + T] booleans, true for real positions; null when every position is real.</param>
    /// <param name="cache">Keys and values of earlier positions, extended in place.</param>
    /// <param name="layer">This layer's index in the cache.</param>
    public Tensor forward(Tensor x, Tensor? keyMask, KvCache? cache, int layer)
    {
        long b = x.shape[0], t = x.shape[1], h = x.shape[2], hd = h / _heads;
        var qkv = c_attn.forward(x).split(h, 2);                              // 3 x [B, T, H]
        var q = qkv[0].view(b, t, _heads, hd).transpose(1, 2);                // [B, nh, T, hd]
        var k = qkv[1].view(b, t, _heads, hd).transpose(1, 2);
        var v = qkv[2].view(b, t, _heads, hd).transpose(1, 2);
        long past = cache?.LengthOf(layer) ?? 0;
        if (cache is not null) (k, v) = cache.Append(layer, k, v);            // [B, nh, past + T, hd]

        double p = training ? _dropout : 0.0;
        Tensor y;
        if (keyMask is null && past == 0)
            y = F.scaled_dot_product_attention(q, k, v, p: p, is_casual: true);
        else
        {
            // Query i sits at position past + i and sees keys 0..past + i, minus padding.
            var allowed = ones(t, past + t, ScalarType.Bool, x.device).tril(past).view(1, 1, t, past + t);
            if (keyMask is not null) allowed = allowed.logical_and(keyMask.view(b, 1, 1, past + t));
            y = F.scaled_dot_product_attention(q, k, v, allowed, p);
        }
        y = y.transpose(1, 2).contiguous().view(b, t, h);                     // [B, T, H]
        return F.dropout(c_proj.forward(y), p, training);
    }
}
