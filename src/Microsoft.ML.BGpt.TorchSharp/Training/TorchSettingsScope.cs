using Microsoft.ML.BGpt.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.BGpt.Training;

/// <summary>
/// Sets torch's process-wide thread count for a run, keeps freed native memory for reuse while it lasts, and puts
/// both, and the global random state that seeding changes, back afterwards, so training leaves the rest of the
/// process as it found it. Training runs in one process take turns: the thread count and the generator are global,
/// so two at once would reseed and restore them under each other (and each already uses every core it is given).
/// </summary>
internal sealed class TorchSettingsScope : IDisposable
{
    private readonly int _threads;
    private readonly Tensor _rngState;
    private readonly IDisposable _heap;

    // Reentrant on one thread (Monitor), so a run that measures its own speed first can nest a scope.
    private static readonly object Turn = new();

    public TorchSettingsScope(int? threads)
    {
        Monitor.Enter(Turn);
        try
        {
            _threads = get_num_threads();
            _rngState = random.get_rng_state().DetachFromDisposeScope();
            if (threads is { } n) set_num_threads(n);
            _heap = NativeMemory.RetainFreedMemory();
        }
        catch
        {
            Monitor.Exit(Turn);
            throw;
        }
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _heap.Dispose();
        set_num_threads(_threads);
        random.set_rng_state(_rngState);
        _rngState.Dispose();
        Monitor.Exit(Turn);
    }
}
