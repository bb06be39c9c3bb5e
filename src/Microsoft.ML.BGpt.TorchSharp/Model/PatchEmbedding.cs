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

    public PatchEmbedding(int patchSize, int vocab, int hidden) : base(nameof(PatchEmbedding))
    {
        _patchSize = patchSize;
        weight = nn.Parameter(torch.empty(patchSize * vocab, hidden));
        var bound = 1.0 / Math.Sqrt(patchSize * vocab); // nn.Linear's default bias init
        bias = nn.Parameter(torch.empty(hidden).uniform_(-bound, bound));
        using (no_grad()) nn.init.normal_(weight, 0, 0.02);
        RegisterComponents();
    }

    // Row offsets i * 257 of the bytes of a patch; made once, outside any dispose scope (not a registered buffer).
    private Tensor? _offsets;

    private Tensor Offsets(Device device)
    {
        if (_offsets is null || _offsets.device != device)
        {
            _offsets?.Dispose();
            long vocab = weight.shape[0] / _patchSize;
            _offsets = tensor(Enumerable.Range(0, _patchSize).Select(i => i * vocab).ToArray(), device: device).DetachFromDisposeScope();
        }
        return _offsets;
    }

    public override Tensor forward(Tensor patches) // [B, N, P] int64 tokens -> [B, N, H]
    {
        long b = patches.shape[0], n = patches.shape[1], h = weight.shape[1];
        using var rows = Ops.Add(patches, Offsets(patches.device)).view(-1);      // [B * N * P]
        using var gathered = weight.index_select(0, rows).view(b, n, _patchSize, h); // [B, N, P, H]
        using var summed = gathered.sum(2);
        return Ops.Add(summed, bias);
    }
}
