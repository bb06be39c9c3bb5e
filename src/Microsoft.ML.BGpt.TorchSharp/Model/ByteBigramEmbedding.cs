using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>
/// Hashed byte bigrams (<see cref="BGptConfig.BigramBuckets"/>): each token adds the row of its (previous token, token)
/// bucket to its patch's embedding. Not in the original; the patch-level decoder has it only when the config asks.
/// </summary>
public sealed class ByteBigramEmbedding : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly TorchSharp.Modules.Parameter weight; // [K, H]
    private readonly int _buckets;

    // ByteBigramHash.Table per device, made once outside any dispose scope (another thread's forward may be using it).
    private readonly Dictionary<(DeviceType, int), Tensor> _tables = new();
    private readonly object _lock = new();
    private readonly RowBagSum _sum = new();

    /// <summary>A table of <paramref name="buckets"/> rows of width <paramref name="hidden"/>, drawn from N(0, 0.02) like the patch embedding.</summary>
    public ByteBigramEmbedding(int buckets, int hidden) : base(nameof(ByteBigramEmbedding))
    {
        _buckets = buckets;
        weight = nn.Parameter(torch.empty(buckets, hidden));
        using (no_grad()) nn.init.normal_(weight, 0, 0.02);
        RegisterComponents();
    }

    private Tensor Table(Device device)
    {
        lock (_lock)
        {
            if (_tables.TryGetValue((device.type, device.index), out var cached)) return cached;
            var table = tensor(ByteBigramHash.Table(_buckets), device: device).DetachFromDisposeScope();
            return _tables[(device.type, device.index)] = table;
        }
    }

    /// <summary>
    /// tokens [B, N, P] int64 -> [B, N, H], the sum over each patch of its tokens' bucket rows. <paramref name="previous"/>
    /// [B, 1] is the token before the first one (the last token a KV cache has seen), or null at a sequence's start.
    /// </summary>
    public override Tensor forward(Tensor tokens, Tensor? previous)
    {
        long b = tokens.shape[0], n = tokens.shape[1], p = tokens.shape[2], h = weight.shape[1];
        using var scope = NewDisposeScope();
        var flat = tokens.reshape(b, n * p);                                                  // [B, T]
        var first = previous ?? full(new long[] { b, 1 }, ByteBigramHash.Start, ScalarType.Int64, tokens.device);
        var before = cat(new[] { first, flat.narrow(1, 0, n * p - 1) }, 1);                   // [B, T] the previous tokens
        var pairs = before * (BGptConfig.SpecialToken + 1) + flat;                            // [B, T] pair index
        var buckets = Table(tokens.device).index_select(0, pairs.flatten()).view(b * n, p);   // [B * N, P], a bag per patch
        return _sum.Sum(weight, buckets).view(b, n, h).MoveToOuterDisposeScope();             // [B, N, H]
    }

    /// <summary>Whether a forward has made the embedding_bag module for the current weight (tests).</summary>
    internal bool HasSumModule => _sum.HasModuleFor(weight);

    /// <summary>Frees the cached bucket tables and the <c>embedding_bag</c> module with the parameters.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var t in _tables.Values) t.Dispose();
            _tables.Clear();
            _sum.Dispose();
        }
        base.Dispose(disposing);
    }
}
