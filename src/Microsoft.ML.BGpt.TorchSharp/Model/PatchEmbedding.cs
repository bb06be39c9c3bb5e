using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>
/// The original's <c>Linear(PATCH_SIZE * 257, H)</c> over one-hot patches, computed as a sum of gathered rows:
/// byte i of a patch with value v selects row i * 257 + v. No one-hot tensor is ever built.
/// </summary>
/// <remarks>The weight is kept [PATCH_SIZE * 257, H], the transpose of the checkpoint's Linear weight.</remarks>
public sealed class PatchEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.Parameter weight; // [P * 257, H]
    private readonly TorchSharp.Modules.Parameter bias;   // [H]
    private readonly int _patchSize;

    /// <summary>Weight [<paramref name="patchSize"/> · <paramref name="vocab"/>, <paramref name="hidden"/>] from N(0, 0.02); bias as <c>nn.Linear</c> draws it.</summary>
    public PatchEmbedding(int patchSize, int vocab, int hidden) : base(nameof(PatchEmbedding))
    {
        _patchSize = patchSize;
        weight = nn.Parameter(torch.empty(patchSize * vocab, hidden));
        var bound = 1.0 / Math.Sqrt(patchSize * vocab); // nn.Linear's default bias init
        bias = nn.Parameter(torch.empty(hidden).uniform_(-bound, bound));
        using (no_grad()) nn.init.normal_(weight, 0, 0.02);
        RegisterComponents();
    }

    /// <summary>
    /// Blurs the rows of byte values 0-255 at each patch position along the byte value with a Gaussian of width
    /// <paramref name="sigma"/> (in byte values), normalised so that i.i.d. rows keep their variance: a fresh N(0, 0.02)
    /// start stays N(0, 0.02) per entry but neighbouring values (amplitude 130 and 131) start with nearly the same
    /// embedding, which one-hot inputs otherwise never tell the model. The padding value 256 and the bias are unchanged.
    /// </summary>
    public void SmoothAlongByteValues(double sigma)
    {
        if (!double.IsFinite(sigma) || sigma <= 0) throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "The blur width must be positive.");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        long vocab = weight.shape[0] / _patchSize, h = weight.shape[1];
        int values = (int)vocab - 1; // 256 byte values; the last row is padding
        using var values3 = weight.view(_patchSize, vocab, h).narrow(1, 0, values);          // [P, 256, H], a view
        var blurred = matmul(BlurMatrix(values, sigma).to(weight.dtype).to(weight.device), values3); // [256, 256] @ [P, 256, H]
        values3.copy_(blurred);
    }

    // K[b, c] = g(c - b) / sqrt(sum over c' in range of g(c' - b)^2), g the Gaussian cut at 3 sigma: row b is a unit-norm
    // kernel, so a blur of i.i.d. entries has their variance; near 0 and 255 the kernel is cut, not reflected.
    private static Tensor BlurMatrix(int values, double sigma)
    {
        int radius = (int)Math.Ceiling(3 * sigma);
        var k = new float[values * values];
        for (int b = 0; b < values; b++)
        {
            double norm = 0;
            for (int c = Math.Max(0, b - radius); c <= Math.Min(values - 1, b + radius); c++) norm += Math.Exp(-(double)(c - b) * (c - b) / (sigma * sigma));
            for (int c = Math.Max(0, b - radius); c <= Math.Min(values - 1, b + radius); c++)
                k[b * values + c] = (float)(Math.Exp(-0.5 * (c - b) * (c - b) / (sigma * sigma)) / Math.Sqrt(norm));
        }
        return tensor(k, values, values);
    }

    // Row offsets i * 257 of the bytes of a patch, one per device, made once outside any dispose scope (not a
    // registered buffer) and kept while the module lives: another thread's forward may still be using one.
    private readonly Dictionary<(DeviceType, int), Tensor> _offsets = new();

    private Tensor Offsets(Device device)
    {
        lock (_sumLock)
        {
            if (_offsets.TryGetValue((device.type, device.index), out var cached)) return cached;
            long vocab = weight.shape[0] / _patchSize;
            var offsets = tensor(Enumerable.Range(0, _patchSize).Select(i => i * vocab).ToArray(), device: device).DetachFromDisposeScope();
            _offsets[(device.type, device.index)] = offsets;
            return offsets;
        }
    }

    // libtorch's embedding_bag over this module's weight (the same tensor, no copy: gradients land on `weight`).
    // TorchSharp offers embedding_bag only as a module, so one is made per weight tensor and remade when a dtype or
    // device move replaces the parameter; not a field of module type, so TorchSharp never registers or moves it.
    private (TorchSharp.Modules.Parameter Weight, TorchSharp.Modules.EmbeddingBag Bag)? _sum;

    // Guards both caches: two threads' first forwards must not both make (and drop) one.
    private readonly object _sumLock = new();

    private TorchSharp.Modules.EmbeddingBag? SumOfRows()
    {
        lock (_sumLock)
        {
            if (_sum is { } cached && ReferenceEquals(cached.Weight, weight)) return cached.Bag;
            // Making the module draws a throwaway initialisation from the global generator, whose state is then put
            // back, so a seeded run's dropout and sampling are what they would be without this cache. While another
            // thread's training run draws from that generator, putting it back would rewind the run: null then,
            // and this forward sums without the module.
            TorchSharp.Modules.EmbeddingBag? bag = null;
            Training.TorchSettingsScope.UnlessAnotherRun(() =>
            {
                using var generator = Generator.Default;
                using var state = generator.get_state();
                bag = nn.EmbeddingBag_from_pretrained(weight, freeze: !weight.requires_grad, mode: EmbeddingBagMode.Sum);
                generator.set_state(state);
            });
            if (bag is null) return null;
            _sum?.Bag.Dispose();
            _sum = (weight, bag);
            return bag;
        }
    }

    /// <summary>The same sum as embedding_bag's, through the [B * N, P, H] gather: rows [B * N, P] -> [B * N, H].</summary>
    private Tensor GatheredSum(Tensor rows)
    {
        using var flat = rows.flatten();
        using var gathered = weight.index_select(0, flat);
        using var bags = gathered.view(rows.shape[0], _patchSize, weight.shape[1]);
        return bags.sum(1);
    }

    /// <summary>Whether a forward has made the embedding_bag module for the current weight (tests).</summary>
    internal bool HasSumModule { get { lock (_sumLock) return _sum is { } s && ReferenceEquals(s.Weight, weight); } }

    /// <summary>Each patch's embedding: the sum of its bytes' rows plus the bias, [B, N, P] int64 tokens -> [B, N, H].</summary>
    public override Tensor forward(Tensor patches) // [B, N, P] int64 tokens -> [B, N, H]
    {
        long b = patches.shape[0], n = patches.shape[1], h = weight.shape[1];
        using var shifted = Ops.Add(patches, Offsets(patches.device));                // [B, N, P] rows i * 257 + v
        using var rows = shifted.view(b * n, _patchSize);                               // [B * N, P], a bag per patch
        // One fused kernel sums each patch's rows, forward and backward, instead of writing the [B, N, P, H] gather
        // (8 KB at H 768: 25 MB per file) and reading it back: training steps take 1.1-1.5x less time
        // (docs/benchmarks.md).
        using var summed = SumOfRows() is { } bag ? bag.forward(rows, null, null) : GatheredSum(rows); // [B * N, H]
        using var shaped = summed.view(b, n, h);                                        // [B, N, H]
        return Ops.Add(shaped, bias);
    }

    /// <summary>Frees the cached offsets and the <c>embedding_bag</c> module with the parameters.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _sum?.Bag.Dispose();
            _sum = null;
            foreach (var offsets in _offsets.Values) offsets.Dispose();
            _offsets.Clear();
        }
        base.Dispose(disposing);
    }
}
