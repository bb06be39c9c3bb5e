using System.Runtime.InteropServices;

namespace Microsoft.ML.BGpt.Runtime;

/// <summary>
/// Hands memory freed by a one-off heavy phase (loading a checkpoint, creating an ONNX Runtime session, a training
/// run) back to the operating system.
/// </summary>
/// <remarks>
/// glibc raises its mmap threshold each time a large block is freed, so the next weight-sized buffers come from the
/// heap and stay resident after they are freed: in the benchmark's probes that kept 100-300 MB of dead load-time
/// buffers in the working set of a 110M-parameter model (docs/benchmarks.md). <c>malloc_trim(0)</c> returns those
/// pages once, without changing how later allocations behave. Elsewhere (musl, macOS, Windows) this does nothing.
/// </remarks>
internal static class NativeMemory
{
    private static bool _unavailable = !RuntimeInformation.IsOSPlatform(OSPlatform.Linux);

    /// <summary>Collects managed garbage, then returns free native heap pages to the OS.</summary>
    public static void Release()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        if (_unavailable) return;
        try { malloc_trim(0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { _unavailable = true; }
    }

    [DllImport("libc")]
    private static extern int malloc_trim(nuint pad);
}
