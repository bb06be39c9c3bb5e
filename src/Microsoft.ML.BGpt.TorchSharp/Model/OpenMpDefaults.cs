using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Microsoft.ML.BGpt.Modeling;

/// <summary>
/// libtorch's OpenMP threads spin while they wait by default. On a machine whose cores are busy with anything else
/// (ML.NET cursors, ONNX Runtime, other processes) that spinning made an 8 KB forward 4x slower in our benchmarks
/// (docs/benchmarks.md), and on a quiet machine passive waiting costs nothing measurable. So, when this assembly loads,
/// before libtorch does, OMP_WAIT_POLICY is set to PASSIVE in the native environment, unless the user set it.
/// </summary>
internal static class OpenMpDefaults
{
    public const string Variable = "OMP_WAIT_POLICY";

    [ModuleInitializer]
    internal static void Apply()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && !RuntimeInformation.IsOSPlatform(OSPlatform.OSX)) return;
        try
        {
            // .NET keeps its own copy of the environment on Unix; libgomp reads the C library's, so set that one.
            if (getenv(Variable) == IntPtr.Zero) setenv(Variable, "PASSIVE", 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // No C library to talk to: leave OpenMP's default.
        }
    }

    /// <summary>The value libgomp will see (for tests and diagnostics).</summary>
    internal static string? Current() => Marshal.PtrToStringAnsi(getenv(Variable));

    [DllImport("libc", SetLastError = true)]
    private static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc")]
    private static extern IntPtr getenv(string name);
}
