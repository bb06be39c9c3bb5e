using System.Diagnostics;

namespace Microsoft.ML.BGpt.Evaluation;

/// <summary>Wall time and peak resident memory of one phase (the Linux high-water mark, reset at the start of each phase).</summary>
internal sealed record PhaseResult(string Name, TimeSpan Wall, long PeakBytes);

internal static class PhaseMeter
{
    public static T Run<T>(string name, List<PhaseResult> log, Func<T> phase)
    {
        ResetPeak();
        Console.WriteLine($"  [{DateTime.Now:HH:mm:ss}] {name}...");
        var clock = Stopwatch.StartNew();
        var result = phase();
        clock.Stop();
        var r = new PhaseResult(name, clock.Elapsed, PeakBytes());
        log.Add(r);
        Console.WriteLine($"  [{DateTime.Now:HH:mm:ss}] {name}: {r.Wall.TotalSeconds:F0} s, peak {r.PeakBytes / (1 << 20):N0} MiB");
        return result;
    }

    /// <summary>Writing 5 to /proc/self/clear_refs resets VmHWM (Linux); elsewhere the process peak is reported.</summary>
    private static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (Exception) { /* not Linux: whole-process peak */ }
    }

    private static long PeakBytes()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:"));
            if (line is not null) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (Exception) { }
        return Process.GetCurrentProcess().PeakWorkingSet64;
    }
}
