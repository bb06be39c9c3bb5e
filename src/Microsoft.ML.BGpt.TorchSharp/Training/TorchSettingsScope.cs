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
    private readonly int? _threads; // the process-wide count to put back, when this scope changed it
    private readonly Tensor _rngState;
    private readonly IDisposable _heap;

    // Reentrant on one thread (Monitor), so a run that measures its own speed first can nest a scope.
    private static readonly object Turn = new();

    public TorchSettingsScope(int? threads)
    {
        Monitor.Enter(Turn);
        try
        {
            _rngState = random.get_rng_state().DetachFromDisposeScope();
            if (threads is { } n)
            {
                _threads = ProcessThreads();
                set_num_threads(n);
            }
            _heap = NativeMemory.RetainFreedMemory();
        }
        catch
        {
            Monitor.Exit(Turn);
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="action"/> holding the turn, unless another thread's run holds it (then returns false and
    /// runs nothing): for work that must not touch the global generator under a run in progress.
    /// </summary>
    internal static bool UnlessAnotherRun(Action action)
    {
        if (!Monitor.TryEnter(Turn)) return false;
        try { action(); return true; }
        finally { Monitor.Exit(Turn); }
    }

    /// <summary>
    /// The count set_num_threads last gave the process, as a new thread sees it: the calling thread's own OpenMP copy
    /// may be older (a pool thread that used torch before the count changed), and restoring that would undo the change.
    /// </summary>
    internal static int ProcessThreads()
    {
        int n = 0;
        var thread = new Thread(() => n = get_num_threads());
        thread.Start();
        thread.Join();
        return n;
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _heap.Dispose();
        if (_threads is { } n) set_num_threads(n);
        random.set_rng_state(_rngState);
        _rngState.Dispose();
        Monitor.Exit(Turn);
    }
}
