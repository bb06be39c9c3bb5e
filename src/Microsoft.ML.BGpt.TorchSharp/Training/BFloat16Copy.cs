using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Training;

/// <summary>
/// The bfloat16 working copy of mixed-precision training: forward and backward run on it, each backward's
/// gradients are added into the float32 master's (so accumulation over micro-batches happens in float32), AdamW
/// updates the master, and <see cref="Sync"/> copies the updated weights back, rounded to bfloat16.
/// </summary>
internal sealed class BFloat16Copy : IDisposable
{
    private readonly Parameter[] _master, _work;

    public BFloat16Copy(nn.Module master, nn.Module work)
    {
        work.to(ScalarType.BFloat16);
        Model = work;
        _master = master.parameters().ToArray();
        _work = work.parameters().ToArray();
        if (_master.Length != _work.Length) throw new InvalidOperationException("The working copy's parameters do not match the model's.");
        Sync();
    }

    public nn.Module Model { get; }

    /// <summary>
    /// Hands the copy's gradients to the master (float32) and zeroes the copy's: the first micro-batch of a step
    /// overwrites the master's gradients (so they need no zeroing), later ones add to them.
    /// </summary>
    public void AccumulateGradients(bool first = true)
    {
        using var _ = no_grad();
        for (int i = 0; i < _work.Length; i++)
        {
            using var scope = NewDisposeScope();
            var g = _work[i].grad;
            if (g is null) continue;
            var m = _master[i].grad;
            if (m is null) _master[i].grad = g.to_type(ScalarType.Float32);
            else if (first) m.copy_(g);
            else m.add_(g);
            g.zero_();
        }
    }

    /// <summary>The master's weights into the copy.</summary>
    public void Sync()
    {
        using var _ = no_grad();
        for (int i = 0; i < _work.Length; i++) _work[i].copy_(_master[i]);
    }

    public void Dispose() => Model.Dispose();
}
