using System.Runtime.InteropServices;

namespace Microsoft.ML.BGpt.Runtime;

/// <summary>
/// Hands memory freed by a one-off heavy phase (loading a checkpoint, creating an ONNX Runtime session, a training
/// run) back to the operating system, and keeps freed memory for reuse while a training run lasts.
/// </summary>
/// <remarks>
/// glibc raises its mmap threshold each time a large block is freed, so the next weight-sized buffers come from the
/// heap and stay resident after they are freed: in the benchmark's probes that kept 100-300 MB of dead load-time
/// buffers in the working set of a 110M-parameter model (docs/benchmarks.md). <c>malloc_trim(0)</c> returns those
/// pages once, without changing how later allocations behave. Elsewhere (musl, macOS, Windows) this does nothing.
/// </remarks>
internal static class NativeMemory
{
    // glibc's mallopt parameters (malloc.h).
    private const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_THRESHOLD = -3;

    private static bool _unavailable = !RuntimeInformation.IsOSPlatform(OSPlatform.Linux);

    /// <summary>Shared by every training run in the process: the first to start applies it, the last to end undoes it.</summary>
    internal static readonly SharedSetting Training = new(retain =>
    {
        if (retain) SetHeap(mmapThreshold: 32 << 20, trimThreshold: 512 << 20, topPad: 256 << 20);
        else
        {
            // glibc's defaults (trim 128 KB, pad 128 KB, a threshold that follows freed blocks) cannot be put back once
            // set; these are the values its dynamic rule settles at after freeing a 32 MB block, its largest step.
            SetHeap(mmapThreshold: 32 << 20, trimThreshold: 64 << 20, topPad: 128 << 10);
            Release();
        }
    });

    /// <summary>Collects managed garbage, then returns free native heap pages to the OS.</summary>
    public static void Release()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        if (_unavailable) return;
        try { malloc_trim(0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { _unavailable = true; }
    }

    /// <summary>
    /// Keeps freed native memory in the process, instead of returning and re-faulting it, until the returned scope is
    /// disposed; then trims. Nested and concurrent scopes share one setting.
    /// </summary>
    /// <remarks>
    /// A training step frees hundreds of megabytes of activations and gradients and allocates them again in the next
    /// step. glibc by default gives the top of its heap back once 128 KB of it is free (twice the mmap threshold after
    /// that threshold has risen), so every step faults those pages in and zeroes them again. Measured on 28x28 BMP
    /// files (hidden 256, 4 layers, bf16): one pretraining epoch 105 s and 4.4M page faults by default, 55 s and 0.56M
    /// with blocks under 32 MB kept on the heap and up to 512 MB of free top kept; peak working set 1,221 vs 1,243 MB
    /// (docs/benchmarks.md). Raising only the top pad was twice as slow, because any mallopt call freezes glibc's
    /// mmap threshold at 128 KB, sending every tensor to a fresh mmap.
    /// </remarks>
    public static IDisposable RetainFreedMemory() => Training.Enter();

    private static void SetHeap(int mmapThreshold, int trimThreshold, int topPad)
    {
        if (_unavailable) return;
        try
        {
            mallopt(M_MMAP_THRESHOLD, mmapThreshold);
            mallopt(M_TRIM_THRESHOLD, trimThreshold);
            mallopt(M_TOP_PAD, topPad);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { _unavailable = true; }
    }

    [DllImport("libc")]
    private static extern int malloc_trim(nuint pad);

    [DllImport("libc")]
    private static extern int mallopt(int param, int value);
}

/// <summary>
/// A process-wide setting held by scopes: applied (<c>true</c>) when the first scope opens, undone (<c>false</c>) when
/// the last one closes, so two pipelines training at once never undo each other's setting.
/// </summary>
internal sealed class SharedSetting(Action<bool> apply)
{
    private readonly object _gate = new();
    private int _holders;

    public IDisposable Enter()
    {
        lock (_gate)
        {
            if (_holders++ == 0) apply(true);
        }
        return new Hold(this);
    }

    private void Leave()
    {
        lock (_gate)
        {
            if (--_holders == 0) apply(false);
        }
    }

    private sealed class Hold(SharedSetting owner) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) owner.Leave();
        }
    }
}
