using System.Diagnostics;

namespace Microsoft.ML.BGpt.Benchmarks;

/// <summary>Median of several timed runs after warm-up, with the spread (min and max).</summary>
internal sealed record Stats(double Median, double Min, double Max, int Runs)
{
    /// <summary>Median seconds of the engine's 2048³ fp32 matmul timed between this row's runs (null: not paired).</summary>
    public double? ReferenceSeconds { get; init; }

    /// <summary>(max - min) / median.</summary>
    public double Spread => Median > 0 ? (Max - Min) / Median : 0;

    public string SpreadText => $"±{Spread * 50:0}% ({Runs}×)";
}

/// <summary>A speed-up timed in alternating pairs (<see cref="Measure.Interleaved"/>).</summary>
internal sealed record SpeedUp(double Median, double Min, double Max, int Pairs)
{
    public string Text => $"{Median:0.00}× (pairs {Min:0.00}–{Max:0.00}×, {Pairs} interleaved)";
}

internal static class Measure
{
    /// <summary>
    /// Runs <paramref name="action"/> <paramref name="warmup"/> times untimed, then times it: as many runs as fit
    /// <paramref name="budgetSeconds"/> judging by the last warm-up, between <paramref name="minRuns"/> and <paramref name="maxRuns"/>.
    /// </summary>
    /// <summary>
    /// The paired reference: while set, a 2048³ fp32 matmul of the current engine is timed after the first, middle
    /// and last timed runs of every row, so each row's efficiency divides by the matmul rate of the same minute
    /// (this machine is shared, and its speed drifts by 2× within minutes).
    /// </summary>
    public static Func<double>? Reference { get; set; }

    public static IDisposable Pair(Func<double> reference)
    {
        var previous = Reference;
        Reference = reference;
        return new Restore(() => Reference = previous);
    }

    private sealed class Restore(Action action) : IDisposable { public void Dispose() => action(); }

    public static Stats Time(Action action, int warmup, int maxRuns, double budgetSeconds, int minRuns)
    {
        var sw = new Stopwatch();
        double last = 0;
        for (int i = 0; i < Math.Max(1, warmup); i++)
        {
            sw.Restart();
            action();
            last = sw.Elapsed.TotalSeconds;
        }
        int runs = Math.Clamp((int)Math.Floor(budgetSeconds / Math.Max(last, 1e-6)), minRuns, Math.Max(minRuns, maxRuns));
        var times = new double[runs];
        var reference = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            sw.Restart();
            action();
            times[i] = sw.Elapsed.TotalSeconds;
            if (Reference is { } r && (i == 0 || i == runs / 2 || i == runs - 1) && (reference.Count < 3)) reference.Add(r());
        }
        return new Stats(Median(times), times.Min(), times.Max(), runs) { ReferenceSeconds = reference.Count > 0 ? Median(reference.ToArray()) : null };
    }

    public static double Median(double[] values)
    {
        var v = values.OrderBy(x => x).ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    /// <summary>
    /// Speed-up of <paramref name="fast"/> over <paramref name="slow"/> timed in alternation (slow, fast, then fast,
    /// slow, ...) after one warm-up run of each, so both see the same minutes of this shared machine, whose speed drifts
    /// 2× between rows timed minutes apart: the median of the <paramref name="pairs"/> per-pair ratios, with their range.
    /// Each run starts after a 20 ms pause: ONNX Runtime's pool threads spin for a while after a run, and two sessions
    /// timed back to back on 2 cores would otherwise time the second against the first's spinning (int8 8 KB 143 ms
    /// against 121 ms alone).
    /// </summary>
    public static SpeedUp Interleaved(Action slow, Action fast, int pairs)
    {
        var sw = new Stopwatch();
        double Run(Action a)
        {
            Thread.Sleep(20);
            sw.Restart();
            a();
            return sw.Elapsed.TotalSeconds;
        }
        Run(slow);
        Run(fast);
        var ratios = new double[pairs];
        for (int i = 0; i < pairs; i++)
        {
            double s, f;
            if (i % 2 == 0) { s = Run(slow); f = Run(fast); }
            else { f = Run(fast); s = Run(slow); }
            ratios[i] = s / f;
        }
        return new SpeedUp(Median(ratios), ratios.Min(), ratios.Max(), pairs);
    }

    public static Stats Time(BenchOptions o, Action action, int? maxRuns = null, double? budget = null) =>
        Time(action, o.Warmup, maxRuns ?? o.Runs, budget ?? o.RowBudgetSeconds, o.MinRuns);

    /// <summary>Peak resident set (VmHWM) of this process in bytes, from /proc (Linux); the .NET value elsewhere.</summary>
    public static long PeakWorkingSet()
    {
        var v = ReadStatus("VmHWM:");
        return v ?? Process.GetCurrentProcess().PeakWorkingSet64;
    }

    /// <summary>Current resident set (VmRSS) in bytes.</summary>
    public static long WorkingSet()
    {
        var v = ReadStatus("VmRSS:");
        return v ?? Process.GetCurrentProcess().WorkingSet64;
    }

    /// <summary>Resets the peak resident set to the current one (Linux: writes 5 to /proc/self/clear_refs). False when unsupported.</summary>
    public static bool ResetPeak()
    {
        try
        {
            if (!OperatingSystem.IsLinux()) return false;
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static long? ReadStatus(string key)
    {
        try
        {
            if (!File.Exists("/proc/self/status")) return null;
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(key, StringComparison.Ordinal))
                    return long.Parse(line[key.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return null;
    }
}
