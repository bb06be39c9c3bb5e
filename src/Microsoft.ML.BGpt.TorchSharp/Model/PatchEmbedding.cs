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
    private readonly object _offsetsLock = new();
    private readonly RowBagSum _sum = new();

    private Tensor Offsets(Device device)
    {
        lock (_offsetsLock)
        {
            if (_offsets.TryGetValue((device.type, device.index), out var cached)) return cached;
            long vocab = weight.shape[0] / _patchSize;
            var offsets = tensor(Enumerable.Range(0, _patchSize).Select(i => i * vocab).ToArray(), device: device).DetachFromDisposeScope();
            _offsets[(device.type, device.index)] = offsets;
            return offsets;
        }
    }

    /// <summary>Whether a forward has made the embedding_bag module for the current weight (tests).</summary>
    internal bool HasSumModule => _sum.HasModuleFor(weight);

    /// <summary>Each patch's embedding: the sum of its bytes' rows plus the bias, [B, N, P] int64 tokens -> [B, N, H].</summary>
    public override Tensor forward(Tensor patches) // [B, N, P] int64 tokens -> [B, N, H]
    {
        long b = patches.shape[0], n = patches.shape[1], h = weight.shape[1];
        using var shifted = Ops.Add(patches, Offsets(patches.device));                // [B, N, P] rows i * 257 + v
        using var rows = shifted.view(b * n, _patchSize);                               // [B * N, P], a bag per patch
        using var summed = _sum.Sum(weight, rows);                                      // [B * N, H]
        using var shaped = summed.view(b, n, h);                                        // [B, N, H]
        return Ops.Add(shaped, bias);
    }

    /// <summary>Frees the cached offsets and the <c>embedding_bag</c> module with the parameters.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _sum.Dispose();
            foreach (var offsets in _offsets.Values) offsets.Dispose();
            _offsets.Clear();
        }
        base.Dispose(disposing);
    }
}
