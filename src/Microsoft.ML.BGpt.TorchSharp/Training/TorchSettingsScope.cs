using Microsoft.ML.BGpt.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Training;

/// <summary>
/// Sets torch's process-wide thread count for a run, keeps freed native memory for reuse while it lasts, and puts
/// both, and the global random state that seeding changes, back afterwards, so training leaves the rest of the
/// process as it found it.
/// </summary>
internal sealed class TorchSettingsScope : IDisposable
{
    private readonly int _threads;
    private readonly Tensor _rngState;
    private readonly IDisposable _heap;

    public TorchSettingsScope(int? threads)
    {
        _threads = get_num_threads();
        _rngState = random.get_rng_state().DetachFromDisposeScope();
        if (threads is { } n) set_num_threads(n);
        _heap = NativeMemory.RetainFreedMemory();
    }

    public void Dispose()
    {
        _heap.Dispose();
        set_num_threads(_threads);
        random.set_rng_state(_rngState);
        _rngState.Dispose();
    }
}
