using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>GPT-2 multi-head causal self-attention, through fused scaled-dot-product attention (written out when training with dropout).</summary>
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
        if (p > 0)
            y = AttendWithDropout(q, k, v, Allowed(b, t, past, keyMask, x.device), p);
        else if (keyMask is null && past == 0)
            y = F.scaled_dot_product_attention(q, k, v, is_casual: true);
        else
            y = F.scaled_dot_product_attention(q, k, v, Allowed(b, t, past, keyMask, x.device));
        y = y.transpose(1, 2).contiguous().view(b, t, h);                     // [B, T, H]
        return Dropout.Apply(c_proj.forward(y), p, training);
    }

    // Query i sits at position past + i and sees keys 0..past + i, minus padding: [1 or B, 1, T, past + T].
    private static Tensor Allowed(long b, long t, long past, Tensor? keyMask, Device device)
    {
        var allowed = ones(t, past + t, ScalarType.Bool, device).tril(past).view(1, 1, t, past + t);
        return keyMask is null ? allowed : allowed.logical_and(keyMask.view(b, 1, 1, past + t));
    }

    /// <summary>
    /// What scaled-dot-product attention computes with dropout (libtorch's math path: scores, mask, softmax, dropout,
    /// values, in float32 whatever the inputs' type, as that path computes bf16 and fp16 on the CPU), written out so the
    /// probabilities' dropout mask comes from <see cref="Dropout"/>, not libtorch's per-element draws.
    /// q [B, nh, T, hd], k and v [B, nh, S, hd], allowed [.., T, S] -> [B, nh, T, hd] in q's type.
    /// </summary>
    internal static Tensor AttendWithDropout(Tensor q, Tensor k, Tensor v, Tensor allowed, double p)
    {
        using var scope = NewDisposeScope();
        var dtype = q.dtype;
        if (dtype != ScalarType.Float32) (q, k, v) = (q.to_type(ScalarType.Float32), k.to_type(ScalarType.Float32), v.to_type(ScalarType.Float32));
        // The scale goes on q ([.., T, hd], smaller than the scores) and the mask is added, not filled in, so backward
        // passes the scores' gradient through untouched. A large finite value, not -inf: its exp is 0 all the same, and
        // a query that may see no key at all gets a finite row, zeroed below, as libtorch's safe softmax zeroes it (the
        // trainers' batches never have one: key 0 is always real), instead of NaN.
        using var blockedScore = (-1e30).ToScalar(); // Scalars held to the end of their calls: see Ops
        using var scale = (1 / Math.Sqrt(q.shape[3])).ToScalar();
        var blocked = zeros(allowed.shape, ScalarType.Float32, q.device).masked_fill_(allowed.logical_not(), blockedScore);
        var probs = Ops.Add(matmul(q.mul(scale), k.transpose(2, 3)), blocked).softmax(-1);         // [B, nh, T, S]
        var seesAny = allowed.any(-1, keepdim: true);
        if (!seesAny.all().item<bool>()) probs = probs.mul(seesAny.to_type(ScalarType.Float32));
        var y = matmul(Dropout.Apply(probs, p, training: true), v);
        return (dtype == ScalarType.Float32 ? y : y.to_type(dtype)).MoveToOuterDisposeScope();
    }
}
