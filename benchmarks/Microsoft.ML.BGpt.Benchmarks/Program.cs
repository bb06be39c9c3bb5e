using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML.BGpt.Benchmarks;
using static TorchSharp.torch;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

BenchOptions o;
try { o = BenchOptions.Parse(args); }
catch (HelpRequested) { Console.WriteLine(BenchOptions.Usage); return 0; }
catch (ArgumentException e) { Console.Error.WriteLine(e.Message); Console.Error.WriteLine(BenchOptions.Usage); return 2; }

// OpenMP (libtorch's thread pool) reads its wait policy once, when libtorch loads: set it before the first torch call.
var ompPolicy = NativeEnvironment.ApplyOmpWaitPolicy(o.OmpWaitPolicy);
if (o.TorchThreads is { } torchThreads) set_num_threads(torchThreads);
if (o.Probe is not null) return MemoryBench.RunProbe(o);

var total = Stopwatch.StartNew();
var report = new Report();
var scratch = Path.Combine(Path.GetTempPath(), "bgpt-bench", "inputs");
var data = SampleData.Load(scratch);
var configs = new[] { "small", "paper" }.Where(o.Configs.Contains).ToList();

DescribeEnvironment(report, o);
report.Environment.Add($"OpenMP wait policy of this process (TorchSharp rows): {ompPolicy}. The diagnostics rows compare it with libtorch's default in child processes.");
foreach (var line in report.Environment) Console.WriteLine(line);
Console.WriteLine();
Console.WriteLine(Report.Header);

MatmulBench.Run(o, report);   // the efficiency denominators: always measured
var outputs = new Outputs();
foreach (var name in configs)
{
    var m = BenchModel.Prepare(name, s => Console.WriteLine("  " + s));
    report.Environment.Add(m.Describe());
    if (o.Runs_("forward") || o.Runs_("throughput") || o.Runs_("lm")) OnnxBench.Run(o, report, m, data, outputs);
    if (o.Runs_("forward") || o.Runs_("throughput") || o.Runs_("lm") || o.Runs_("generation")) TorchBench.Run(o, report, m, data, outputs);
    if (o.Runs_("training")) TrainingBench.Run(o, report, m, data);
    GC.Collect();
    GC.WaitForPendingFinalizers();
}
if (o.Runs_("diagnostics") && configs.Count > 0)
{
    var m = BenchModel.Prepare(configs[^1]);
    DiagnosticsBench.Run(o, report, m, data);
    DiagnosticsBench.TorchThreading(o, report, m);
    DiagnosticsBench.OrtThreads(o, report, m, data);
}
MatmulBench.Run(o, report, end: true);
if (o.Runs_("memory")) MemoryBench.Run(o, report, data, configs);

var targets = Targets.Evaluate(report);
Console.WriteLine();
Console.WriteLine(targets);
foreach (var f in report.Findings) Console.WriteLine("- " + f);
var command = "dotnet run -c Release --project benchmarks/Microsoft.ML.BGpt.Benchmarks" + (args.Length > 0 ? " -- " + string.Join(" ", args) : "");
report.WriteMarkdown(o.Out, command, targets, total.Elapsed);
Console.WriteLine($"\nWrote {Path.GetFullPath(o.Out)} ({total.Elapsed.TotalMinutes:0.0} min).");
return 0;

// The package version (5.0.1), not the assembly version ML.NET keeps at 1.0.0.0; without its "+commit" suffix.
static string InformationalVersion(System.Reflection.Assembly assembly) =>
    (assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false).FirstOrDefault()
        as System.Reflection.AssemblyInformationalVersionAttribute)?.InformationalVersion.Split('+')[0] ?? assembly.GetName().Version?.ToString() ?? "?";

static void DescribeEnvironment(Report report, BenchOptions o)
{
    string cpu = "unknown CPU";
    try
    {
        var info = File.ReadAllLines("/proc/cpuinfo");
        cpu = info.FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        var flags = info.FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(':', 2)[1].Split(' ') ?? [];
        var wanted = new[] { "avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16" };
        cpu += $", {System.Environment.ProcessorCount} logical CPUs, flags: {string.Join(" ", wanted.Where(flags.Contains))}";
    }
    catch (IOException) { }
    string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
    report.Environment.Add($"Date: {DateTime.UtcNow:yyyy-MM-dd} (UTC). Mode: {(o.Quick ? "--quick" : "full")}.");
    report.Environment.Add($"CPU: {cpu}. Load average at start: {load} (a shared machine: compare ratios within this run, not across runs).");
    report.Environment.Add($"OS: {System.Runtime.InteropServices.RuntimeInformation.OSDescription}; .NET {System.Environment.Version}.");
    report.Environment.Add($"TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version} (libtorch-cpu 2.10.0), threads {get_num_threads()} intra-op / {get_num_interop_threads()} inter-op; " +
                           $"ONNX Runtime {Microsoft.ML.OnnxRuntime.OrtEnv.Instance().GetVersionString()} (all graph optimizations; intra-op threads {Environment.ProcessorCount} = every core, as the library's pipelines set them, 1 inter-op thread); " +
                           $"ML.NET {InformationalVersion(typeof(Microsoft.ML.MLContext).Assembly)}.");
    report.Environment.Add("Weights: random (seeded), saved as original-layout .pth checkpoints; inputs: the start of a real file from benchmarks/data (1,024 and 8,192 bytes), and the 53 mixed files there (see benchmarks/data/SOURCE.md).");
}

/// <summary>Native environment variables (.NET's Environment.SetEnvironmentVariable does not reach native code on Unix).</summary>
internal static class NativeEnvironment
{
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);

    /// <summary>Sets OMP_WAIT_POLICY for libtorch's OpenMP unless the user set it; returns what is in force.</summary>
    public static string ApplyOmpWaitPolicy(string policy)
    {
        var existing = System.Environment.GetEnvironmentVariable("OMP_WAIT_POLICY");
        if (!string.IsNullOrEmpty(existing)) return $"OMP_WAIT_POLICY={existing} (from the environment)";
        if (policy.Equals("default", StringComparison.OrdinalIgnoreCase) || !OperatingSystem.IsLinux()) return "libtorch's default (OMP_WAIT_POLICY unset)";
        SetEnv("OMP_WAIT_POLICY", policy.ToUpperInvariant(), 1);
        return $"OMP_WAIT_POLICY={policy.ToUpperInvariant()} (set by the benchmark: --omp-wait-policy default to measure libtorch's default)";
    }
}

/// <summary>The issue's targets, evaluated on this run's rows.</summary>
internal static class Targets
{
    /// <summary>Key of an interleaved <see cref="SpeedUp"/> over fp32 in <see cref="Report.Values"/>.</summary>
    public static string SpeedUpKey(string config, string engine, string precision) => $"speedup.{config}.{engine}.{precision}";

    public static string Evaluate(Report r)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| target | measured (this run) | status |");
        sb.AppendLine("|---|---|---|");
        void Line(string target, string measured, bool? met, string? gap = null) =>
            sb.AppendLine($"| {target} | {measured} | {(met is null ? "not measured" : met.Value ? "**met**" : "missed" + (gap is null ? "" : $" ({gap})"))} |");

        Row? Get(string family, string engine, string precision, string @case, string config = "paper") =>
            r.Find(x => x.Family == family && x.Engine == engine && x.Precision == precision && x.Case == @case && x.Config == config && x.Time is not null);
        string Pct(double? v) => v is null ? "—" : $"{v * 100:0}%";

        // 1. fp32 8 KB forward efficiency on both paths.
        foreach (var (engine, @case) in new[] { ("ORT", "features 8 KB"), ("TorchSharp", "classify 8 KB") })
        {
            var row = Get("forward", engine, "fp32", @case);
            var eff = row is null ? null : r.Efficiency(row);
            Line($"{engine}: fp32 8 KB forward ≥ 80% of fp32 matmul FLOP/s (paper config)",
                row is null ? "—" : $"{Report.Seconds(row.Time!.Median)}, {row.FlopRate / 1e9:0} GFLOP/s = {Pct(eff)} of {r.MatmulRate(engine) / 1e9:0} GFLOP/s",
                eff is null ? null : eff >= 0.8, eff is null ? null : $"{eff / 0.8 * 100:0}% of the target");
        }

        // 2. Reduced precision ≥ 2.5× faster than fp32 at 8 KB: judged on the interleaved pairs where the run has them (the
        //    rows' medians were timed minutes apart, and the machine's speed drifts 2× in that time).
        foreach (var (engine, fast, slow, c) in new[] { ("ORT", "int8 dyn.", "fp32", "classify 8 KB"), ("TorchSharp", "bf16", "fp32", "classify 8 KB") })
        {
            var a = Get("forward", engine, slow, c);
            var b = Get("forward", engine, fast, c);
            double? rows = a is null || b is null ? null : a.Time!.Median / b.Time!.Median;
            var paired = r.Values.TryGetValue(SpeedUpKey("paper", engine, fast), out var v) ? (SpeedUp)v : null;
            double? speedup = paired?.Median ?? rows;
            Line($"{engine}: {fast} 8 KB forward ≥ 2.5× faster than fp32",
                speedup is null ? (fast == "bf16" && !Bf16.Runs ? Bf16.Skipped : "—") : (paired is null ? "" : $"{paired.Text}; ") + (rows is null ? "" : $"row medians {rows:0.00}× ({Report.Seconds(b!.Time!.Median)} vs {Report.Seconds(a!.Time!.Median)}); accuracy: {b.Notes.Split(';')[0]}"),
                speedup is null ? null : speedup >= 2.5, speedup is null ? null : $"{speedup / 2.5 * 100:0}% of the target");
        }

        // 3. Training efficiency and bf16 speed-up.
        foreach (var c in new[] { "8 KB × batch 1", "1 KB × batch 8" })
        {
            var row = Get("training", "TorchSharp", "fp32", c);
            var eff = row is null ? null : r.Efficiency(row);
            Line($"training step ({c}) ≥ 65% of fp32 matmul FLOP/s", row is null ? "—" : $"{Report.Seconds(row.Time!.Median)}, {Pct(eff)}",
                eff is null ? null : eff >= 0.65, eff is null ? null : $"{eff / 0.65 * 100:0}% of the target");
            var b = Get("training", "TorchSharp", "bf16 mixed", c);
            double? s = row is null || b is null ? null : row.Time!.Median / b.Time!.Median;
            Line($"bf16 training step ({c}) ≥ 1.6× faster than fp32", s is null ? (Bf16.Runs ? "—" : Bf16.Skipped) : $"{s:0.00}×", s is null ? null : s >= 1.6, s is null ? null : $"{s / 1.6 * 100:0}% of the target");
        }

        // 4. LM bits per byte within 2× the classification forward.
        foreach (var (engine, precision, c) in new[] { ("ORT", "fp32", "classify 8 KB"), ("TorchSharp", "fp32", "classify 8 KB"), ("ORT", "int8 dyn.", "classify 8 KB"), ("TorchSharp", "bf16", "classify 8 KB") })
        {
            var lm = Get("lm", engine, precision, "bits/byte 8 KB");
            var fwd = Get("forward", engine, precision, c);
            double? ratio = lm is null || fwd is null ? null : lm.Time!.Median / fwd.Time!.Median;
            double flopRatio = lm is null || fwd is null ? 0 : lm.Flop / fwd.Flop;
            Line($"{engine} {precision}: LM bits/byte 8 KB ≤ 2× classify 8 KB", ratio is null ? (precision == "bf16" && !Bf16.Runs ? Bf16.Skipped : "—") : $"{ratio:0.00}× (FLOP ratio {flopRatio:0.00}×)",
                ratio is null ? null : ratio <= 2, ratio is null ? null : $"{ratio / 2:0.00}× over the budget");
        }

        // 5. Memory.
        foreach (var (key, what) in new[] { ("memory.ort-fp32", "ORT fp32 FeaturizeBGpt (checkpoint → export → session)"), ("memory.ort-fp32-file", "ORT fp32 from an exported .onnx"), ("memory.ort-int8-file", "ORT int8 from a quantized .onnx"), ("memory.torch-fp32", "TorchSharp fp32") })
        {
            long? peak = r.Values.TryGetValue(key, out var v) ? (long)v : null;
            long? serving = r.Values.TryGetValue(key + ".serving", out var s) ? (long)s : null;
            Line($"inference of the 110M model < 1.2 GB peak working set: {what}", peak is null ? "—" : $"peak {peak / 1e6:N0} MB" + (serving is null ? "" : $" (while serving, after load: {serving / 1e6:N0} MB)"),
                peak is null ? null : peak < 1.2e9, peak is null ? null : $"{peak / 1.2e9:0.00}× the budget");
        }
        foreach (var (key, what) in new[] { ("memory.train-fp32", "fp32"), ("memory.train-bf16", "bf16 mixed") })
        {
            long? peak = r.Values.TryGetValue(key, out var v) ? (long)v : null;
            Line($"training < 4 GB at batch 8 of 1 KB ({what})", peak is null ? "—" : $"peak {peak / 1e6:N0} MB", peak is null ? null : peak < 4e9, peak is null ? null : $"{peak / 4e9:0.00}× the budget");
        }
        {
            long? growth = r.Values.TryGetValue("memory.leak.growth", out var g) ? (long)g : null;
            Line("no growth over 10,000 predictions (--quick: 2,000)", growth is null ? "—" : (string)r.Values["memory.leak.notes"], growth is null ? null : growth < 20 * 1048576L,
                growth is null ? null : $"grew {growth / 1e6:0.0} MB");
        }
        return sb.ToString();
    }
}
